// Typesets the math pymdownx.arithmatex marks (generic mode: <span class="arithmatex">\(..\)</span>
// and <div class="arithmatex">\[..\]</div>) with the KaTeX shipped beside this file, so the
// site needs no network. document$ is mkdocs-material's page-load stream (it also fires on
// instant navigation).
function typeset(root) {
  for (const el of root.querySelectorAll(".arithmatex")) {
    const source = el.textContent.trim();
    const display = source.startsWith("\\[");
    const tex = source.replace(/^\\[[(]/, "").replace(/\\[\])]$/, "");
    // strict off: the docs write Unicode (Δ, Σ, −, …) inside math, which KaTeX typesets.
    katex.render(tex, el, { displayMode: display, throwOnError: false, strict: false });
  }
}
if (typeof document$ !== "undefined") {
  document$.subscribe(({ body }) => typeset(body));
} else {
  document.addEventListener("DOMContentLoaded", () => typeset(document.body));
}
