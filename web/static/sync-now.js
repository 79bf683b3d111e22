// "立即同步" starts a round in the background and the page comes back at once. While the round is under
// way, ask the node how it is going (GET /sync/status) and reload the page when it has ended, so that
// the page shows the outcome. No inline script: the pages' Content-Security-Policy allows none.
(function () {
  "use strict";
  var progress = document.getElementById("sync-progress");
  if (!progress || progress.hidden) {
    return;
  }
  var started = Date.now();
  function ask() {
    fetch(progress.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        return answer.json();
      })
      .then(function (status) {
        // The seconds waited, so that a slow parent is seen to be waited for, not a page that hung.
        var waited = Math.round((Date.now() - started) / 1000);
        progress.textContent = status.running ? status.message + "已等待 " + waited + " 秒" : status.message;
        if (status.running) {
          window.setTimeout(ask, 1000);
        } else {
          window.location.reload();
        }
      })
      .catch(function () {
        window.setTimeout(ask, 3000);
      });
  }
  window.setTimeout(ask, 1000);
})();
