// Sealing asks for the holder's PIN. The form is sent from here, so that a wrong PIN (or a locked seal) is
// said on this page, in words, with the cursor back in the PIN field; a sealed paper is saved as a file to
// open and print. Without scripts the form still works, in a new tab.
document.querySelectorAll("form[data-seal]").forEach(function (form) {
  var outcome = form.querySelector(".seal-outcome");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = event.submitter;
    outcome.className = "seal-outcome";
    outcome.textContent = "正在盖章……";
    fetch(button.formAction, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        if (!response.ok) {
          return response.json().then(
            function (body) { throw new Error(body.message || "盖章没有完成"); },
            function () { throw new Error("盖章没有完成（" + response.status + "）"); }
          );
        }
        var disposition = response.headers.get("Content-Disposition") || "";
        var named = /filename\*=UTF-8''([^;]+)/.exec(disposition) || /filename="?([^";]+)"?/.exec(disposition);
        return response.blob().then(function (blob) {
          var link = document.createElement("a");
          link.href = URL.createObjectURL(blob);
          link.download = named ? decodeURIComponent(named[1]) : "盖章文件.pdf";
          document.body.appendChild(link);
          link.click();
          link.remove();
          form.elements.pin.value = "";
          outcome.textContent = "已盖章：" + link.download + " 已保存，请在浏览器的下载栏中打开并打印。";
        });
      })
      .catch(function (error) {
        outcome.className = "seal-outcome error";
        outcome.textContent = error.message;
        form.elements.pin.focus();
        form.elements.pin.select();
      });
  });
});
