/*
 * Kara Support Chat — websocket client for protocol v1 (handoff/PROTOCOL.md).
 *
 * One job: keep a socket to the gateway open. It sends `hello` first on every
 * (re)connection, reconnects with exponential backoff and jitter, holds frames
 * sent while offline in an outbox and flushes them after the next `welcome`,
 * and hands every server frame to the caller. It knows nothing about the DOM.
 *
 * Shared by the shopper widget and the agent console; exposed as
 * `window.KaraProtocol`. Plain ES2017, no build step.
 */
(function (global) {
  "use strict";

  if (global.KaraProtocol) return; // loaded twice (widget + console on one page)

  var VERSION = 1;
  var MAX_FRAME_BYTES = 4096;
  var MAX_TEXT_CHARS = 2000;
  var UNAUTHORIZED_CLOSE = 4401;

  /** ws(s)://host[:port] from an http(s)/ws(s) URL or a bare host, without a trailing slash. */
  function websocketOrigin(url, base) {
    var u = new URL(url || "/", base || global.location.href);
    var scheme = u.protocol === "https:" || u.protocol === "wss:" ? "wss:" : "ws:";
    var path = u.pathname.replace(/\/+$/, "");
    return scheme + "//" + u.host + path;
  }

  /** http(s) origin of a gateway given as ws(s):// or http(s)://, for REST calls. */
  function httpOrigin(url, base) {
    var u = new URL(url || "/", base || global.location.href);
    var scheme = u.protocol === "wss:" || u.protocol === "https:" ? "https:" : "http:";
    return scheme + "//" + u.host + u.pathname.replace(/\/+$/, "");
  }

  /** Delay before reconnect attempt n (0-based): 0.5 s doubling to 30 s, ±25 % jitter. */
  function backoffDelay(attempt) {
    var base = Math.min(30000, 500 * Math.pow(2, attempt));
    var jitter = base * 0.25 * (Math.random() * 2 - 1);
    return Math.round(base + jitter);
  }

  function uid(prefix) {
    var rnd = global.crypto && global.crypto.randomUUID
      ? global.crypto.randomUUID()
      : Date.now().toString(36) + Math.random().toString(36).slice(2);
    return (prefix || "") + rnd;
  }

  function byteLength(text) {
    return new TextEncoder().encode(text).length;
  }

  /**
   * A connection that stays up.
   *
   * options:
   *   url        full websocket URL (ws://host/ws/shopper)
   *   hello()    returns the hello frame to send (called on every connect, so
   *              it can carry the latest resume token)
   *   onFrame(frame)         every server frame, including welcome and error
   *   onStatus(status, info) "connecting" | "open" | "reconnecting" | "closed"
   *                          info = {attempt, delayMs, code}
   *   onUnauthorized(code)   hello was refused (close 4401); return true to
   *                          reconnect at once (e.g. after dropping a token)
   */
  function Connection(options) {
    this.options = options;
    this.socket = null;
    this.ready = false; // true between `welcome` and close
    this.stopped = false;
    this.attempt = 0;
    this.timer = null;
    this.outbox = []; // frames waiting for a ready socket
    this._onOnline = this.reconnectNow.bind(this);
  }

  Connection.prototype.start = function () {
    this.stopped = false;
    global.addEventListener("online", this._onOnline);
    this._open();
  };

  Connection.prototype.stop = function () {
    this.stopped = true;
    global.removeEventListener("online", this._onOnline);
    clearTimeout(this.timer);
    if (this.socket) {
      try { this.socket.close(1000, "bye"); } catch (e) { /* already closed */ }
    }
    this.socket = null;
    this.ready = false;
    this._status("closed", {});
  };

  /** Skip the backoff wait (the "Retry now" button, the browser coming back online). */
  Connection.prototype.reconnectNow = function () {
    if (this.stopped) return;
    if (this.socket && this.socket.readyState <= 1) return; // connecting or open
    clearTimeout(this.timer);
    this._open();
  };

  /**
   * Send a frame now if the connection is ready, else keep it for later.
   * Returns the frame's ref. Frames with `queue: false` are dropped when
   * offline (typing indicators are worthless late).
   */
  Connection.prototype.send = function (frame, opts) {
    if (!frame.ref) frame.ref = uid("r-").slice(0, 40);
    var keep = !(opts && opts.queue === false);
    if (this.ready && this.socket && this.socket.readyState === 1) {
      this.socket.send(JSON.stringify(frame));
    } else if (keep) {
      this.outbox.push(frame);
    }
    return frame.ref;
  };

  /** Forget queued frames matching a predicate (e.g. a message the user cancelled). */
  Connection.prototype.dropQueued = function (predicate) {
    this.outbox = this.outbox.filter(function (f) { return !predicate(f); });
  };

  Connection.prototype._status = function (status, info) {
    if (this.options.onStatus) this.options.onStatus(status, info || {});
  };

  Connection.prototype._open = function () {
    var self = this;
    var socket;
    this._status(this.attempt === 0 ? "connecting" : "reconnecting", { attempt: this.attempt });
    try {
      socket = new WebSocket(this.options.url);
    } catch (err) {
      this._schedule(null);
      return;
    }
    this.socket = socket;
    this.ready = false;

    socket.onopen = function () {
      socket.send(JSON.stringify(self.options.hello()));
    };

    socket.onmessage = function (event) {
      if (typeof event.data !== "string") return;
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return; // the gateway only sends JSON; ignore noise
      }
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "welcome") {
        self.ready = true;
        self.attempt = 0;
        self._status("open", {});
      }
      self.options.onFrame(frame);
      if (frame.type === "welcome") self._flush();
    };

    socket.onclose = function (event) {
      if (self.socket !== socket) return; // an old socket we replaced
      self.socket = null;
      self.ready = false;
      if (self.stopped) return;
      if (event.code === UNAUTHORIZED_CLOSE) {
        var again = self.options.onUnauthorized && self.options.onUnauthorized(event.code);
        if (!again) {
          self.stopped = true;
          self._status("closed", { code: event.code });
          return;
        }
        self.attempt = 0;
      }
      self._schedule(event.code);
    };

    socket.onerror = function () {
      /* onclose follows and schedules the retry */
    };
  };

  Connection.prototype._schedule = function (code) {
    var self = this;
    var delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this._status("reconnecting", { attempt: this.attempt, delayMs: delay, code: code });
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self._open(); }, delay);
  };

  Connection.prototype._flush = function () {
    var pending = this.outbox;
    this.outbox = [];
    for (var i = 0; i < pending.length; i++) this.send(pending[i]);
  };

  global.KaraProtocol = {
    VERSION: VERSION,
    MAX_FRAME_BYTES: MAX_FRAME_BYTES,
    MAX_TEXT_CHARS: MAX_TEXT_CHARS,
    Connection: Connection,
    websocketOrigin: websocketOrigin,
    httpOrigin: httpOrigin,
    backoffDelay: backoffDelay,
    byteLength: byteLength,
    uid: uid,
  };
})(window);
