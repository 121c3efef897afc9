/* A small syntax highlighter for <pre><code data-lang> and Markdown's <code class="language-x">.
   It only wraps text in <span class="tok-*"> built with createElement/textContent, so highlighting
   can never turn item text into markup. Unknown languages get strings, numbers and comments. */
(function () {
  "use strict";

  var KEYWORDS = {
    python: "and as assert async await break class continue def del elif else except False finally for from global if import in is lambda None nonlocal not or pass raise return True try while with yield self",
    javascript: "async await break case catch class const continue default delete do else export extends false finally for function if import in instanceof let new null return super switch this throw true try typeof undefined var void while yield of",
    bash: "if then else elif fi for while do done case esac function in return export local set echo cd exit source",
    dockerfile: "FROM RUN CMD LABEL EXPOSE ENV ADD COPY ENTRYPOINT VOLUME USER WORKDIR ARG ONBUILD STOPSIGNAL HEALTHCHECK SHELL AS",
    sql: "select from where and or not insert into values update set delete create table drop alter join left right inner outer on group by order having limit as distinct count sum avg min max null is in like with union all case when then else end",
    go: "break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var nil true false",
    rust: "as break const continue crate else enum extern false fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while async await dyn",
    json: "true false null",
  };
  KEYWORDS.js = KEYWORDS.javascript;
  KEYWORDS.ts = KEYWORDS.typescript = KEYWORDS.javascript;
  KEYWORDS.sh = KEYWORDS.shell = KEYWORDS.console = KEYWORDS.bash;
  KEYWORDS.py = KEYWORDS.python;

  var HASH_COMMENTS = { python: 1, py: 1, bash: 1, sh: 1, shell: 1, dockerfile: 1, yaml: 1, toml: 1, ruby: 1 };
  var SLASH_COMMENTS = { javascript: 1, js: 1, ts: 1, typescript: 1, go: 1, rust: 1, c: 1, cpp: 1, java: 1, json: 0 };
  var CASE_INSENSITIVE = { sql: 1, dockerfile: 1 };

  function tokenizer(lang) {
    var parts = [];
    if (HASH_COMMENTS[lang]) parts.push("(#[^\\n]*)");
    else if (SLASH_COMMENTS[lang]) parts.push("(\\/\\/[^\\n]*|\\/\\*[\\s\\S]*?\\*\\/)");
    else if (lang === "sql") parts.push("(--[^\\n]*)");
    else parts.push("(\\u0000)"); // never matches real text; keeps group numbers stable
    parts.push("(\"(?:[^\"\\\\\\n]|\\\\.)*\"|'(?:[^'\\\\\\n]|\\\\.)*'|`(?:[^`\\\\]|\\\\.)*`)");
    parts.push("(\\b\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?\\b)");
    parts.push("([A-Za-z_][A-Za-z0-9_]*)");
    return new RegExp(parts.join("|"), "g");
  }

  function span(cls, text) {
    var el = document.createElement("span");
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function nextChar(text, at) {
    while (text.charAt(at) === " " || text.charAt(at) === "\t") at += 1;
    return text.charAt(at);
  }

  function highlightDiff(code, text) {
    var frag = document.createDocumentFragment();
    text.split("\n").forEach(function (line, i, lines) {
      var cls = /^(\+\+\+|---)/.test(line) ? "tok-meta" : line[0] === "+" ? "tok-add" : line[0] === "-" ? "tok-del" : line.slice(0, 2) === "@@" ? "tok-meta" : "";
      var suffix = i < lines.length - 1 ? "\n" : "";
      frag.appendChild(cls ? span(cls, line + suffix) : document.createTextNode(line + suffix));
    });
    code.replaceChildren(frag);
  }

  function highlight(code) {
    if (code.dataset.highlighted) return;
    var lang = (code.dataset.lang || "").toLowerCase();
    var fromClass = /(?:^|\s)language-([\w+-]+)/.exec(code.className || "");
    if (!lang && fromClass) lang = fromClass[1].toLowerCase();
    code.dataset.highlighted = "1";
    var text = code.textContent;
    if (!lang || !text || text.length > 200000) return; // plain output stays plain
    if (lang === "diff" || lang === "patch") return highlightDiff(code, text);
    var words = {};
    (KEYWORDS[lang] || "").split(" ").forEach(function (w) {
      if (w) words[CASE_INSENSITIVE[lang] ? w.toLowerCase() : w] = 1;
    });
    var re = tokenizer(lang);
    var frag = document.createDocumentFragment();
    var last = 0;
    var m;
    while ((m = re.exec(text)) !== null) {
      var cls = null;
      if (m[1]) cls = "tok-comment";
      else if (m[2]) cls = lang === "json" && nextChar(text, re.lastIndex) === ":" ? "tok-key" : "tok-string";
      else if (m[3]) cls = "tok-number";
      else if (m[4]) {
        var word = CASE_INSENSITIVE[lang] ? m[4].toLowerCase() : m[4];
        if (words[word]) cls = "tok-keyword";
        else if (text.charAt(re.lastIndex) === "(") cls = "tok-call";
      }
      if (!cls) continue;
      if (m.index > last) frag.appendChild(document.createTextNode(text.slice(last, m.index)));
      frag.appendChild(span(cls, m[0]));
      last = re.lastIndex;
    }
    if (last === 0) return;
    if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
    code.replaceChildren(frag);
  }

  function run() {
    document.querySelectorAll("pre > code").forEach(highlight);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
