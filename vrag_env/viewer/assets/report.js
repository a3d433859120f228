// Images live in one JSON table and are attached when an episode opens (lazy decoding).
(function () {
  "use strict";
  var images = JSON.parse(document.getElementById("vrag-images").textContent);
  var episodes = Array.prototype.slice.call(document.querySelectorAll("details.episode"));
  var rows = Array.prototype.slice.call(document.querySelectorAll("#index tbody tr"));

  function attach(episode) {
    episode.querySelectorAll("img[data-img]").forEach(function (img) {
      if (!img.getAttribute("src")) { img.src = images[img.dataset.img]; }
    });
  }
  episodes.forEach(function (ep) {
    ep.addEventListener("toggle", function () { if (ep.open) { attach(ep); } });
  });

  function value(id) { return document.getElementById(id).value; }
  function applyFilters() {
    var outcome = value("f-outcome"), source = value("f-source"), qtype = value("f-qtype");
    var invalid = document.getElementById("f-invalid").checked;
    var shown = 0;
    rows.forEach(function (row) {
      var ok = (!outcome || row.dataset.outcome === outcome) &&
        (!source || row.dataset.source === source) &&
        (!qtype || row.dataset.qtype === qtype) &&
        (!invalid || row.dataset.invalid === "1");
      row.hidden = !ok;
      document.getElementById("ep-" + row.dataset.ep).hidden = !ok;
      if (ok) { shown += 1; }
    });
    document.getElementById("f-count").textContent = shown + " of " + rows.length + " shown";
  }
  ["f-outcome", "f-source", "f-qtype", "f-invalid"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", applyFilters);
  });
  rows.forEach(function (row) {
    row.addEventListener("click", function () {
      var ep = document.getElementById("ep-" + row.dataset.ep);
      ep.open = true; attach(ep); ep.scrollIntoView();
    });
  });
  document.getElementById("open-shown").addEventListener("click", function () {
    episodes.forEach(function (ep) { if (!ep.hidden) { ep.open = true; attach(ep); } });
  });
  document.getElementById("close-all").addEventListener("click", function () {
    episodes.forEach(function (ep) { ep.open = false; });
  });
  applyFilters();

  // report.html#ep-N links to episode N (the browser scrolls there): open it. #open=N,M opens
  // episodes without scrolling (screenshots).
  var linked = /^#ep-\d+$/.test(location.hash) && document.getElementById(location.hash.slice(1));
  if (linked) { linked.open = true; attach(linked); }
  if (location.hash.indexOf("#open=") === 0) {
    location.hash.slice(6).split(",").forEach(function (n) {
      var ep = document.getElementById("ep-" + n);
      if (ep) { ep.open = true; attach(ep); }
    });
  }

  // report.html#selftest: open everything, wait for every image, write the counts into the page.
  if (location.hash === "#selftest") {
    episodes.forEach(function (ep) { ep.open = true; attach(ep); });
    var imgs = Array.prototype.slice.call(document.querySelectorAll("img[data-img]"));
    var written = false;
    function settled(img) {
      // Resolves once the image has loaded or failed; never waits on decode() (a headless browser
      // may defer decoding of images outside the viewport indefinitely).
      return new Promise(function (resolve) {
        if (img.complete) { resolve(); return; }
        img.addEventListener("load", function () { resolve(); });
        img.addEventListener("error", function () { resolve(); });
      });
    }
    function report(timedOut) {
      if (written) { return; }
      written = true;
      var out = document.createElement("pre");
      out.id = "vrag-selftest";
      out.textContent = JSON.stringify({
        episodes: episodes.length,
        steps: document.querySelectorAll("details.episode .step").length,
        images: imgs.length,
        loaded: imgs.filter(function (img) { return img.complete && img.naturalWidth > 0; }).length,
        episode_ids: episodes.map(function (ep) { return ep.dataset.qid; }),
        timed_out: timedOut
      });
      document.body.appendChild(out);
    }
    Promise.all(imgs.map(settled)).then(function () { report(false); });
    setTimeout(function () { report(true); }, 15000);
  }
})();
