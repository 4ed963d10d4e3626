/*
 * Kara Support Chat — keeping a conversation's end in view, shared by the
 * widget and the console. Exposed as `window.KaraScroll`.
 *
 * A list follows new messages only while the person reads its end, and that
 * is measured *before* a message is added (a tall one would otherwise push
 * the end out of reach and stop the following). When a message arrives while
 * they have scrolled up, a "New message ↓" button takes them down.
 */
(function (global) {
  "use strict";

  if (global.KaraScroll) return;

  /** scroller: the scrolling element; jump: its "New message" button; slack: px that still count as the end. */
  function Follower(scroller, jump, slack, onJump) {
    var self = this;
    this.scroller = scroller;
    this.jump = jump;
    this.slack = slack;
    jump.hidden = true;
    jump.addEventListener("click", function () {
      self.toEnd(true);
      if (onJump) onJump();
    });
    scroller.addEventListener("scroll", function () { if (self.nearEnd()) jump.hidden = true; }, { passive: true });
  }

  /** Whether the person is reading the end (ask before adding to the list). */
  Follower.prototype.nearEnd = function () {
    var s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < this.slack;
  };

  /** follow: scroll to the end, after layout so the new content's height counts. */
  Follower.prototype.toEnd = function (follow) {
    var s = this.scroller;
    if (!follow) return;
    this.jump.hidden = true;
    requestAnimationFrame(function () { s.scrollTop = s.scrollHeight; });
  };

  /** After adding a message: follow, or offer the button when it is news they would miss. */
  Follower.prototype.added = function (follow, news) {
    this.toEnd(follow);
    if (!follow && news) this.jump.hidden = false;
  };

  global.KaraScroll = { Follower: Follower };
})(window);
