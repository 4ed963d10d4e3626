/*
 * Agent console alerts: a sound made with WebAudio (no audio files) and a
 * flashing tab title. Exposed as `window.KaraAlerts`.
 *
 * Browsers only let a page make sound after a user gesture, so `unlock()` is
 * called from the sign-in click; sounds asked for before that are skipped.
 */
(function (global) {
  "use strict";

  var ctx = null;
  var muted = false;
  var flashTimer = null;
  var baseTitle = document.title;

  function unlock() {
    var AC = global.AudioContext || global.webkitAudioContext;
    if (!AC) return;
    if (!ctx) ctx = new AC();
    if (ctx.state === "suspended") ctx.resume();
  }

  /** Play tones: [[frequencyHz, startS, durationS], ...] relative to now. */
  function play(tones, volume) {
    if (muted || !ctx) return false;
    var now = ctx.currentTime;
    tones.forEach(function (t) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = t[0];
      // Short attack and release so the beep does not click.
      gain.gain.setValueAtTime(0, now + t[1]);
      gain.gain.linearRampToValueAtTime(volume, now + t[1] + 0.02);
      gain.gain.setValueAtTime(volume, now + t[1] + t[2] - 0.04);
      gain.gain.linearRampToValueAtTime(0, now + t[1] + t[2]);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(now + t[1]);
      osc.stop(now + t[1] + t[2] + 0.05);
    });
    return true;
  }

  /** An emergency: a loud high-low siren, three times. */
  function emergency() {
    var tones = [];
    for (var i = 0; i < 3; i++) {
      tones.push([988, i * 0.6, 0.25]);
      tones.push([740, i * 0.6 + 0.28, 0.25]);
    }
    return play(tones, 0.35);
  }

  /** Any other new chat in the queue, or a message in a background chat: one soft ding. */
  function chime() {
    return play([[660, 0, 0.12], [880, 0.13, 0.18]], 0.12);
  }

  /** Alternate the tab title with `text` until stopFlash(). */
  function flashTitle(text) {
    if (flashTimer) { flashTimer.text = text; return; }
    var on = false;
    flashTimer = { text: text, id: null };
    var step = function () {
      on = !on;
      document.title = on ? flashTimer.text : baseTitle;
    };
    step();
    flashTimer.id = setInterval(step, 900);
  }

  function stopFlash() {
    if (!flashTimer) return;
    clearInterval(flashTimer.id);
    flashTimer = null;
    document.title = baseTitle;
  }

  function setBaseTitle(title) {
    baseTitle = title;
    if (!flashTimer) document.title = title;
  }

  global.KaraAlerts = {
    unlock: unlock,
    emergency: emergency,
    chime: chime,
    flashTitle: flashTitle,
    stopFlash: stopFlash,
    isFlashing: function () { return !!flashTimer; },
    setBaseTitle: setBaseTitle,
    setMuted: function (m) { muted = !!m; },
    isMuted: function () { return muted; },
  };
})(window);
