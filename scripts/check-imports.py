#!/usr/bin/env python3
"""Import circles between the files of a Rust crate: scripts/check-imports.py [--strict] [CRATE_SRC …]

Each file is a module (src/x.rs and src/x/mod.rs are `x`, src/x/y.rs is `x::y`); a reference
`crate::a::b…` or `super::…` outside `#[cfg(test)]` code is an edge from the file's module to the
longest module the path names. A circle is a strongly connected set of two or more modules; an
edge from a module to one of its ancestors (`super::Error`, the parent's shared items) or to a
descendant (the parent's own `mod` items) is not an import circle and is left out.

Defaults: sara_ctl/src (root lib.rs) and sara_kmod (root sara_main.rs; the compiled-in core, which
has its own crate and checks, is skipped). Prints each circle; exits 1 with --strict if any.
"""
import os
import re
import sys

REF = re.compile(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)")
SKIP_DIRS = {"core", "glue", "bin", "tests", "fuzz"}


def modules(src, root_file):
    """{module path: file} for the crate rooted at src/root_file."""
    mods = {"": os.path.join(src, root_file)}
    for d, dirs, files in os.walk(src):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
        for f in files:
            if not f.endswith(".rs") or (d == src and f == root_file):
                continue
            rel = os.path.relpath(os.path.join(d, f), src)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            mods["::".join(rel)] = os.path.join(d, f)
    return mods


def code_without_tests(text):
    """The text up to its first `#[cfg(test)]` (tests may reach anywhere)."""
    i = text.find("#[cfg(test)]")
    return text if i < 0 else text[:i]


def edges(mods):
    out = {m: set() for m in mods}
    for m, path in mods.items():
        with open(path, encoding="utf-8") as fh:
            text = code_without_tests(fh.read())
        text = re.sub(r"//.*", "", text)
        for base, rest in REF.findall(text):
            parts = [p for p in rest.split("::") if p]
            if base == "crate":
                target = parts
            else:
                own = m.split("::") if m else []
                # `super` of a mod.rs/x.rs module is its parent.
                while parts and parts[0] == "super":
                    parts = parts[1:]
                    own = own[:-1]
                target = own[:-1] + parts
            best = ""
            for k in range(len(target), 0, -1):
                cand = "::".join(target[:k])
                if cand in mods:
                    best = cand
                    break
            if best and best != m and not is_ancestor(best, m) and not is_ancestor(m, best):
                out[m].add(best)
    return out


def is_ancestor(a, b):
    return a == "" or b.startswith(a + "::")


def circles(graph):
    """Strongly connected components of two or more nodes (Tarjan)."""
    index, low, stack, on, res, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                res.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return res


def main():
    args = [a for a in sys.argv[1:] if a != "--strict"]
    strict = "--strict" in sys.argv[1:]
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    crates = args or ["sara_ctl/src", "sara_kmod"]
    found = 0
    for c in crates:
        src = os.path.join(top, c)
        root = "sara_main.rs" if os.path.exists(os.path.join(src, "sara_main.rs")) else "lib.rs"
        g = edges(modules(src, root))
        cs = circles(g)
        for comp in cs:
            found += 1
            inner = sorted((a, b) for a in comp for b in g[a] if b in comp)
            print(f"{c}: import circle: {' ↔ '.join(comp)}")
            for a, b in inner:
                print(f"    {a} → {b}")
        if not cs:
            print(f"{c}: no import circle ({len(g)} modules)")
    sys.exit(1 if strict and found else 0)


if __name__ == "__main__":
    main()
