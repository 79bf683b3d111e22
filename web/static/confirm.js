// A form with data-confirm asks before it is sent: kept out of the pages, whose policy allows no inline script.
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
