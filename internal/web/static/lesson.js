// The conclude form asks a failure for its lesson: the learning fields
// are always there; this marks them when "failed" is the chosen outcome.
(function () {
  "use strict";
  var lesson = document.getElementById("lesson");
  if (!lesson) {
    return;
  }
  var radios = document.querySelectorAll('input[name="outcome"]');

  function update() {
    var failed = document.querySelector('input[name="outcome"][value="failed"]:checked') !== null;
    lesson.classList.toggle("asked", failed);
  }

  radios.forEach(function (r) {
    r.addEventListener("change", update);
  });
  update();
})();
