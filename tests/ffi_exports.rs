//! Every export of the C ABI sits inside `ffi_fn!`, the panic boundary: no
//! `no_mangle` item anywhere else in src/, none from another macro, and
//! each export says in its docs what it returns after a panic.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Whether an attribute makes its item a C symbol: `no_mangle`,
/// `export_name`, also under `cfg_attr(...)` or `unsafe(...)`.
fn exports(a: &syn::Attribute) -> bool {
    let named = |s: &str| s.contains("no_mangle") || s.contains("export_name");
    match &a.meta {
        syn::Meta::Path(p) => p.is_ident("no_mangle"),
        syn::Meta::NameValue(nv) => nv.path.is_ident("export_name"),
        syn::Meta::List(l) => !l.path.is_ident("doc") && named(&l.tokens.to_string()),
    }
}

fn doc(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// What the docs must say a panic returns, from `#[on_panic(...)]`.
fn promised(on_panic: Option<&syn::Attribute>) -> String {
    let Some(a) = on_panic else {
        return "On an internal panic: returns".into();
    };
    let syn::Meta::List(l) = &a.meta else {
        panic!("#[on_panic] takes a value");
    };
    let v = l.tokens.to_string().replace(' ', "");
    let said = match v.as_str() {
        "FASTSERVE_RESULT_PANIC" => "FASTSERVE_RESULT_PANIC".to_string(),
        "fastserve_str::NONE" => "{ NULL, 0 }".into(),
        "c\"\".as_ptr()" => "\"\"".into(),
        v if v.contains("null") => "NULL".into(),
        v => v.into(),
    };
    format!("On an internal panic: returns {said}")
}

#[derive(Default)]
struct Scan {
    file: String,
    depth: usize,
    exports: Vec<String>,
    problems: Vec<String>,
}

impl<'ast> Visit<'ast> for Scan {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if f.attrs.iter().any(exports) {
            self.problems.push(format!(
                "{}: {} is exported outside ffi_fn!",
                self.file, f.sig.ident
            ));
        }
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if f.attrs.iter().any(exports) {
            self.problems.push(format!(
                "{}: {} is exported outside ffi_fn!",
                self.file, f.sig.ident
            ));
        }
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_item_static(&mut self, s: &'ast syn::ItemStatic) {
        if s.attrs.iter().any(exports) {
            self.problems
                .push(format!("{}: static {} is exported", self.file, s.ident));
        }
        syn::visit::visit_item_static(self, s);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        self.depth += 1;
        syn::visit::visit_item_mod(self, m);
        self.depth -= 1;
    }

    fn visit_item_macro(&mut self, m: &'ast syn::ItemMacro) {
        if !m.mac.path.is_ident("ffi_fn") {
            // a macro_rules! definition or another invocation
            let t = m.mac.tokens.to_string();
            if t.contains("no_mangle") || t.contains("export_name") {
                self.problems.push(format!(
                    "{}: a macro other than ffi_fn! exports a symbol",
                    self.file
                ));
            }
            return;
        }
        let f: syn::ItemFn = match syn::parse2(m.mac.tokens.clone()) {
            Ok(f) => f,
            Err(e) => return self.problems.push(format!("{}: ffi_fn!: {e}", self.file)),
        };
        let name = f.sig.ident.to_string();
        let exported = f.attrs.iter().any(exports);
        if !exported {
            return; // a test's function, not part of the ABI
        }
        if self.depth > 0 || !self.file.starts_with("src/ffi/") {
            self.problems.push(format!(
                "{}: {name} must be a top-level item of src/ffi, where build.rs finds it",
                self.file
            ));
        }
        let lines = doc(&f.attrs);
        let on_panic = f.attrs.iter().find(|a| a.path().is_ident("on_panic"));
        let want = promised(on_panic);
        if !lines.iter().any(|l| l.starts_with(&want)) {
            self.problems
                .push(format!("{}: {name}'s docs must say \"{want}\"", self.file));
        }
        if f.sig.unsafety.is_some() && !lines.iter().any(|l| l == "# Safety") {
            self.problems.push(format!(
                "{}: {name} is unsafe: its docs need a # Safety section",
                self.file
            ));
        }
        self.exports.push(name);
    }
}

#[test]
fn every_export_is_inside_the_panic_boundary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    files.sort();
    let mut scan = Scan::default();
    for path in &files {
        scan.file = path.strip_prefix(root).unwrap().display().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", scan.file));
        scan.visit_file(&file);
    }
    assert!(scan.problems.is_empty(), "\n{}", scan.problems.join("\n"));

    // the whole ABI, phr_* included, is covered
    let mut names = scan.exports.clone();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len(),
        scan.exports.len(),
        "an export is defined twice"
    );
    for expected in [
        "phr_parse_request",
        "phr_decode_chunked",
        "fastserve_server_new",
        "fastserve_last_error",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} not found");
    }
    let header = std::fs::read_to_string(root.join("include/fastserve.h")).unwrap();
    for n in names.iter().filter(|n| n.starts_with("fastserve_")) {
        let declared = header.contains(&format!(" {n}(")) || header.contains(&format!("*{n}("));
        assert!(declared, "{n} is not in include/fastserve.h");
    }
    assert!(
        names.len() >= 79,
        "{} exports found: {names:?}",
        names.len()
    );
}
