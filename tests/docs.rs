//! Every Rust example in the documentation is compiled: the Markdown files rustdoc includes
//! (the README, `docs/temporal_test.md`) are doctests; a ```rust block anywhere else must be
//! quoted from a file that is compiled and tested, named on the line before it as
//! `<!-- compiled: path -->`, and this test fails when the quote and the file drift apart.
//! An `ignore`d block fails wherever it is.

use std::path::{Path, PathBuf};

/// The Markdown files users read, from the repository root.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The Markdown files rustdoc compiles: those `include_str!`ed by the library's sources.
fn doctested(root: &Path) -> Vec<PathBuf> {
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("src/lib.rs");
    lib.split("include_str!(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|rel| root.join("src").join(rel))
        .filter_map(|p| p.canonicalize().ok())
        .collect()
}

/// A ```rust block: where it starts (1-based line of the fence), its info string, the
/// `<!-- compiled: .. -->` path before it, and its lines.
struct Block {
    line: usize,
    info: String,
    quoted_from: Option<String>,
    lines: Vec<String>,
}

fn rust_blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(info) = lines[i].trim_start().strip_prefix("```rust") else {
            i += 1;
            continue;
        };
        let quoted_from = i
            .checked_sub(1)
            .and_then(|p| lines[p].trim().strip_prefix("<!-- compiled:"))
            .and_then(|rest| rest.strip_suffix("-->"))
            .map(|path| path.trim().to_string());
        let start = i;
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            body.push(lines[i].to_string());
            i += 1;
        }
        blocks.push(Block {
            line: start + 1,
            info: info.to_string(),
            quoted_from,
            lines: body,
        });
        i += 1;
    }
    blocks
}

/// Whether `quote`'s non-blank lines appear, in order and next to each other, among
/// `source`'s non-blank lines (indentation aside).
fn quotes(source: &str, quote: &[String]) -> bool {
    let wanted: Vec<&str> = quote
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let have: Vec<&str> = source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    !wanted.is_empty() && have.windows(wanted.len()).any(|w| w == wanted.as_slice())
}

#[test]
fn every_rust_example_in_the_docs_is_compiled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doctested = doctested(root);
    assert!(
        doctested.iter().any(|p| p.ends_with("README.md")),
        "the README is no longer a doctest: {doctested:?}"
    );
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in markdown_files(root) {
        let text = std::fs::read_to_string(&file).expect("markdown");
        let name = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let is_doctest = file.canonicalize().is_ok_and(|f| doctested.contains(&f));
        for block in rust_blocks(&text) {
            checked += 1;
            let at = format!("{name}:{}", block.line);
            if block.info.contains("ignore") {
                problems.push(format!(
                    "{at}: an `ignore`d example compiles nowhere. Fix: make it a doctest \
                     (`no_run` where it needs a stack) or quote it from a compiled file"
                ));
                continue;
            }
            if is_doctest {
                continue;
            }
            let Some(path) = &block.quoted_from else {
                problems.push(format!(
                    "{at}: a Rust example that nothing compiles. Fix: quote it from a \
                     compiled file and name it on the line before: <!-- compiled: path -->"
                ));
                continue;
            };
            match std::fs::read_to_string(root.join(path)) {
                Err(e) => problems.push(format!("{at}: cannot read {path}: {e}")),
                Ok(source) if !quotes(&source, &block.lines) => problems.push(format!(
                    "{at}: the example is no longer what {path} says. Fix: copy the lines \
                     from {path} again (or change both)"
                )),
                Ok(_) => {}
            }
        }
    }
    assert!(checked > 0, "no Rust example found: the scan is broken");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("{checked} Rust examples in the docs, each compiled");
}

#[test]
fn a_quote_must_match_the_source_line_for_line() {
    let source = "fn main() {\n    let a = 1;\n\n    let b = 2;\n}\n";
    let quote = |s: &str| s.lines().map(String::from).collect::<Vec<_>>();
    assert!(quotes(source, &quote("let a = 1;\nlet b = 2;")));
    assert!(!quotes(source, &quote("let b = 2;\nlet a = 1;")), "order");
    assert!(!quotes(source, &quote("let a = 2;")), "content");
    assert!(!quotes(source, &quote("")), "an empty quote proves nothing");
    let blocks =
        rust_blocks("<!-- compiled: x.rs -->\n```rust\nlet a = 1;\n```\n```rust,ignore\n```\n");
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].quoted_from.as_deref(), Some("x.rs"));
    assert!(blocks[1].info.contains("ignore") && blocks[1].quoted_from.is_none());
}
