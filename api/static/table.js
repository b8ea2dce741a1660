// Adds another filter row (a copy of the first, emptied). The form works without this script.
document.getElementById("add-filter")?.addEventListener("click", () => {
  const rows = document.getElementById("filter-rows");
  const copy = rows.querySelector(".filter-row").cloneNode(true);
  copy.querySelector(".filter-val").value = "";
  rows.appendChild(copy);
});

// Every column ticked is no choice at all: leave _col out of the address rather than list each column.
document.getElementById("filter-form")?.addEventListener("submit", () => {
  const boxes = [...document.querySelectorAll("#colpick input[name=_col]")];
  if (boxes.every((box) => box.checked)) boxes.forEach((box) => { box.disabled = true; });
});
