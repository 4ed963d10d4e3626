/*
 * Agent console: shopper presence (PROTOCOL.md "Shopper presence"). When a
 * waiting or claimed chat's shopper closes the page, its queue card and its
 * chat header show "Shopper left" until they come back. Fed every frame by
 * console.js (after the console drew it), so cards redrawn by `queues` get
 * the mark again. Exposed as `window.KaraPresence`.
 */
(function (global) {
  "use strict";

  var left = {}; // conversation_id -> true while the shopper is away

  function badge(host) {
    var node = host.querySelector(".cp-left");
    if (!node) {
      node = document.createElement("span");
      node.className = "c-tag cp-left";
      node.textContent = "Shopper left";
      node.title = "The shopper closed the page; they may not see your reply until they come back.";
      host.appendChild(node);
    }
  }

  function mark() {
    document.querySelectorAll(".c-entry[data-conversation], .c-pane[data-conversation]").forEach(function (node) {
      var host = node.querySelector(node.classList.contains("c-entry") ? ".c-entry-top" : ".c-pane-head");
      if (!host) return;
      if (left[node.getAttribute("data-conversation")]) badge(host);
      else host.querySelectorAll(".cp-left").forEach(function (b) { b.remove(); });
    });
  }

  function fromChat(chat) {
    if (chat && chat.conversation_id && chat.shopper_present === false) left[chat.conversation_id] = true;
    else if (chat && chat.conversation_id) delete left[chat.conversation_id];
  }

  function onFrame(frame) {
    if (frame.type === "presence" && frame.conversation_id) {
      if (frame.shopper === "left") left[frame.conversation_id] = true;
      else {
        delete left[frame.conversation_id];
        document.dispatchEvent(new CustomEvent("kara:shopper-back", { detail: frame.conversation_id }));
      }
    } else if (frame.type === "welcome") {
      (frame.chats || []).forEach(fromChat);
      // waiting chats whose shopper left before this console connected (entry.shopper_present)
      Object.keys(frame.queues || {}).forEach(function (q) { (frame.queues[q] || []).forEach(fromChat); });
    } else if (frame.type === "claimed") {
      fromChat(frame.chat);
    }
    mark();
  }

  global.KaraPresence = { onFrame: onFrame, left: function (cid) { return !!left[cid]; } };
})(window);
