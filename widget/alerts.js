/*
 * Agent console alerts: a sound made with WebAudio (no audio files) and a
 * flashing tab title. Exposed as `window.KaraAlerts`.
 *
 * Browsers may only let a page make sound after a user gesture (click, key):
 * the AudioContext then stays "suspended". So two things are tracked apart:
 * whether the agent wants sound (kept in localStorage across reloads) and
 * whether the browser lets the page play it (the context is "running").
 * `state()` says which of "on" | "off" | "blocked" holds, and `onChange`
 * tells the console when it changes, so the button never claims sound that
 * the browser is not playing. Any click or key on the page unlocks it; sounds
 * asked for while blocked are skipped (not queued to blare out later).
 */
(function (global) {
  "use strict";

  var MUTE_KEY = "kara-console:sound";
  var ctx = null;
  var muted = readMuted();
  var flashTimer = null;
  var baseTitle = document.title;
  var listeners = [];

  function readMuted() {
    try { return global.localStorage.getItem(MUTE_KEY) === "off"; } catch (e) { return false; }
  }

  function changed() {
    listeners.forEach(function (fn) { fn(state()); });
  }

  /** Make the audio context (allowed without a gesture; it may start suspended). */
  function ensureContext() {
    var AC = global.AudioContext || global.webkitAudioContext;
    if (!AC) return null;
    if (!ctx) {
      ctx = new AC();
      ctx.addEventListener("statechange", changed);
    }
    return ctx;
  }

  /** From a user gesture: ask the browser to start the audio. */
  function unlock() {
    if (!ensureContext()) return;
    if (ctx.state !== "running") ctx.resume().then(changed, changed);
    changed();
  }

  /** "off" (the agent muted it), "blocked" (wanted, but the browser has not started audio), "on". */
  function state() {
    if (muted) return "off";
    return ctx && ctx.state === "running" ? "on" : "blocked";
  }

  /** Play tones: [[frequencyHz, startS, durationS], ...] relative to now. */
  function play(tones, volume) {
    if (state() !== "on") return false;
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

  // The first click or key anywhere on the page is the gesture browsers ask for.
  ["pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      // The sound button decides for itself (a click there while blocked means "allow").
      if (e.target && e.target.closest && e.target.closest("[data-kara-sound]")) return;
      if (!muted && state() === "blocked") unlock();
    }, true);
  });

  global.KaraAlerts = {
    unlock: unlock,
    init: function () { ensureContext(); changed(); },
    state: state,
    onChange: function (fn) { listeners.push(fn); },
    emergency: emergency,
    chime: chime,
    flashTitle: flashTitle,
    stopFlash: stopFlash,
    isFlashing: function () { return !!flashTimer; },
    setBaseTitle: setBaseTitle,
    setMuted: function (m) {
      muted = !!m;
      try { global.localStorage.setItem(MUTE_KEY, muted ? "off" : "on"); } catch (e) { /* storage off */ }
      if (!muted) unlock();
      changed();
    },
    isMuted: function () { return muted; },
  };
})(window);
