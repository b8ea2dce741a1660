// Adds another filter row (a copy of the first, emptied). The form works without this script.
document.getElementById("add-filter")?.addEventListener("click", () => {
  const rows = document.getElementById("filter-rows");
  const copy = rows.querySelector(".filter-row").cloneNode(true);
  copy.querySelector(".filter-val").value = "";
  rows.appendChild(copy);
});
