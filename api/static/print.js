// Buttons marked data-print print the page (the CSP allows scripts from /static only, no inline handlers).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
