// The first field of a page's one form to fill in has the focus, so a person starts typing without the
// mouse; a page that names its own first field (autofocus) keeps it, and a page of several such forms (an
// application's) lets the person choose. A form that opens with a choice of radio buttons (the resident's
// rating) gets no focus: a ring on its first grade would look like a grade chosen for them. Kept out of the
// pages, whose policy allows no inline script.
document.addEventListener("DOMContentLoaded", function () {
  if (document.querySelector("[autofocus]")) {
    return;
  }
  var fields = "input:not([type=hidden]):not([disabled]), select, textarea";
  var forms = Array.prototype.filter.call(document.querySelectorAll("main form"), function (form) {
    return form.querySelector(fields);
  });
  if (forms.length === 1) {
    var first = forms[0].querySelector(fields);
    if (first.type !== "radio") {
      first.focus();
    }
  }
});
