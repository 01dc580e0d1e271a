// The market's public board: fetches its panel every few seconds, keeps the last one in localStorage, says since
// when it shows old data when the network is down, and turns pages of rows that do not fit the screen.
// ES5 only (old TV browsers): XMLHttpRequest, no modules, no framework. If anything here fails, the page still
// reloads itself after the refresh interval; without script, <noscript>'s meta refresh does the same.
(function () {
  "use strict";
  var body = document.body;
  if (!body || !body.hasAttribute || !body.hasAttribute("data-board")) return;
  var refresh = Math.max(2, parseInt(body.getAttribute("data-refresh"), 10) || 60) * 1000;
  var rotate = Math.max(3, parseInt(body.getAttribute("data-rotate"), 10) || 12) * 1000;
  var fallback = setTimeout(function () { window.location.reload(); }, refresh);
  if (!window.XMLHttpRequest || !document.querySelector) return;

  var slot = document.querySelector("[data-panel-slot]");
  var notice = document.querySelector("[data-offline]");
  var clock = document.querySelector("[data-clock]");
  var dateBox = document.querySelector("[data-date]");
  var url = body.getAttribute("data-panel-url");
  var key = body.getAttribute("data-key");
  var skew = 0; // the server's clock minus this display's, in ms
  var groups = [];

  function store(name, value) { try { window.localStorage.setItem(name, value); } catch (e) { /* full or off */ } }
  function stored(name) { try { return window.localStorage.getItem(name); } catch (e) { return null; } }
  function panel() { return slot.querySelector("[data-panel]"); }
  function generated(html) { var m = /data-generated="(\d+)"/.exec(html || ""); return m ? parseInt(m[1], 10) : 0; }
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function now() { return new Date().getTime(); }
  // The district's wall clock, read with getUTC*: the server's time plus the district's offset.
  function districtNow() {
    var offset = parseInt(panel().getAttribute("data-offset"), 10) || 0;
    return new Date(now() + skew + offset * 60000);
  }
  function setOff(el, off) {
    var name = (" " + el.className + " ").replace(/ off /g, " ").replace(/^\s+|\s+$/g, "");
    el.className = off ? (name ? name + " off" : "off") : name;
  }
  function closest(el, attribute) {
    while (el && el.getAttribute && !el.hasAttribute(attribute)) el = el.parentNode;
    return el && el.getAttribute ? el : null;
  }

  function tick() {
    var d = districtNow();
    if (clock) clock.textContent = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    if (dateBox) dateBox.textContent = d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }

  // Pages: each list's rows are cut where they overflow their box; each list shows one page at a time.
  function paginate() {
    var previous = groups, lists = slot.querySelectorAll("[data-rotate-list]"), i, j;
    groups = [];
    for (i = 0; i < lists.length; i++) {
      var list = lists[i], box = closest(list, "data-rotate-box") || list.parentNode, items = list.children;
      for (j = 0; j < items.length; j++) setOff(items[j], false);
      var room = box.getBoundingClientRect().bottom - list.getBoundingClientRect().top;
      var pages = [0], start = items.length ? items[0].getBoundingClientRect().top : 0;
      for (j = 1; j < items.length; j++) {
        if (items[j].getBoundingClientRect().bottom - start > room) {
          pages.push(j);
          start = items[j].getBoundingClientRect().top;
        }
      }
      var section = closest(list, "aria-labelledby");
      var group = { items: items, pages: pages, at: 0, label: section && section.querySelector("[data-page-no]") };
      if (previous[i]) group.at = previous[i].at % pages.length;
      groups.push(group);
      show(group);
    }
  }
  function show(group) {
    var from = group.pages[group.at], to = group.at + 1 < group.pages.length ? group.pages[group.at + 1] : group.items.length;
    for (var j = 0; j < group.items.length; j++) setOff(group.items[j], j < from || j >= to);
    if (group.label) {
      group.label.textContent = group.pages.length > 1 ? body.getAttribute("data-page-of")
        .replace("{page}", group.at + 1).replace("{pages}", group.pages.length) : "";
    }
  }
  function turn() {
    for (var i = 0; i < groups.length; i++) {
      if (groups[i].pages.length > 1) { groups[i].at = (groups[i].at + 1) % groups[i].pages.length; show(groups[i]); }
    }
  }

  function offline() {
    var p = panel(), time = p.getAttribute("data-time"), d = districtNow();
    if (p.getAttribute("data-day") !== pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate())) {
      time = p.getAttribute("data-day") + " " + time;
    }
    notice.textContent = body.getAttribute("data-offline-text").replace("{time}", time);
    notice.removeAttribute("hidden");
  }
  function online() { notice.setAttribute("hidden", ""); }
  function put(html) { slot.innerHTML = html; paginate(); tick(); }

  function load() {
    var xhr = new XMLHttpRequest(), finished = false;
    function fail() { if (!finished) { finished = true; offline(); } }
    xhr.open("GET", url, true);
    xhr.timeout = Math.min(refresh, 20000);
    xhr.ontimeout = fail;
    xhr.onerror = fail;
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4 || finished) return;
      if (xhr.status !== 200 || xhr.responseText.indexOf("data-panel") < 0) { fail(); return; }
      finished = true;
      var served = Date.parse(xhr.getResponseHeader("Date") || "");
      if (!isNaN(served)) { skew = served - now(); store(key + ":skew", String(skew)); }
      store(key, xhr.responseText);
      put(xhr.responseText);
      online();
    };
    xhr.send();
  }

  // A page served from the service worker's copy may be older than the last panel kept here: show the newer.
  var kept = stored(key), shown = generated(slot.innerHTML), keptSkew = parseInt(stored(key + ":skew"), 10);
  if (kept && generated(kept) > shown) {
    slot.innerHTML = kept;
  } else if (generated(kept) < shown) { // a page newer than anything kept comes from the server: so does its time
    keptSkew = shown - now();
    store(key, slot.innerHTML);
    store(key + ":skew", String(keptSkew));
  }
  skew = isNaN(keptSkew) ? shown - now() : keptSkew;
  paginate();
  tick();
  window.onresize = paginate;
  setInterval(tick, 5000);
  setInterval(turn, rotate);
  setInterval(load, refresh);
  if (now() + skew - generated(slot.innerHTML) > refresh) load(); // an old copy: try for fresh data at once
  if (navigator.serviceWorker && body.getAttribute("data-sw")) {
    try {
      navigator.serviceWorker.register(body.getAttribute("data-sw"), { scope: "/board/" }).then(null, function () {});
    } catch (e) { /* not allowed here (plain http on another host) */ }
  }
  clearTimeout(fallback);
})();
