//! Sets the shared library's SONAME and generates the C header into
//! `$OUT_DIR/fastserve.h`. `make header` copies it to include/fastserve.h,
//! which is checked in; `make test-header` fails when the two differ.
//!
//! The header reads as a manual: one section per file of src/ffi, in the
//! order of `SECTIONS`, each under a banner holding the file's module doc.
//! cbindgen runs once per section. Each run sees every file, so it knows
//! every type, but only the section's own items are written: the others are
//! marked `cbindgen:no-export`. A struct used before its section is
//! forward-declared.
//!
//! cbindgen does not expand macros, so the exports, written inside
//! `ffi_fn! { ... }`, are handed to it as the plain functions they expand to.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use quote::ToTokens;

/// The sections in reading order: a file of src/ffi and its title.
const SECTIONS: &[(&str, &str)] = &[
    ("mod.rs", "Overview"),
    ("error.rs", "Results and errors"),
    ("config.rs", "Configuration"),
    ("server.rs", "Server"),
    ("listen.rs", "Listeners"),
    ("request.rs", "Requests and responses"),
    ("deferred.rs", "Deferred responses"),
    ("stream.rs", "Streamed responses"),
    ("body.rs", "Request bodies in pieces"),
    ("upgrade.rs", "Protocol switches"),
    ("batch.rs", "Batch routes"),
    ("observe.rs", "Access log, error hook and metrics"),
    ("conn.rs", "Sans-I/O connection"),
    ("conn_stream.rs", "Sans-I/O streams and protocol switches"),
    ("parse.rs", "Parser"),
    ("pico.rs", "picohttpparser compatibility"),
];

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libfastserve.so.0");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    avx512_cfg();

    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let path = out.join("fastserve.h");
    let _ = std::fs::remove_file(&path);
    let files = match read_sources(&dir.join("src/ffi")) {
        Ok(f) => f,
        Err(e) => {
            // A syntax error is better reported by rustc itself.
            println!("cargo:warning=no header: {e}");
            return;
        }
    };
    let text = header(&dir, &out, &files).unwrap_or_else(|e| panic!("fastserve.h: {e}"));
    std::fs::write(&path, text).unwrap();
}

/// Sets `fastserve_avx512` when rustc has the AVX-512 intrinsics and target
/// features (stable from 1.89). Older compilers, down to the MSRV, build the
/// crate without the AVX-512 kernel; `Kernel::Avx512` then reports itself
/// unsupported.
fn avx512_cfg() {
    println!("cargo:rustc-check-cfg=cfg(fastserve_avx512)");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = std::process::Command::new(rustc).arg("--version").output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    // "rustc 1.89.0 (...)": compare (major, minor)
    let version = text.ok().and_then(|t| {
        let mut v = t.split_whitespace().nth(1)?.split('.');
        Some((
            v.next()?.parse::<u32>().ok()?,
            v.next()?.parse::<u32>().ok()?,
        ))
    });
    if version.is_some_and(|v| v >= (1, 89)) {
        println!("cargo:rustc-cfg=fastserve_avx512");
    }
}

/// One file of src/ffi, as cbindgen should see it.
struct Source {
    name: &'static str,
    title: &'static str,
    /// The module doc (`//!`), one string per line.
    doc: Vec<String>,
    items: Vec<syn::Item>,
    /// Names of the structs, enums and type aliases it defines.
    structs: BTreeSet<String>,
    others: BTreeSet<String>,
}

fn read_sources(ffi: &Path) -> Result<Vec<Source>, String> {
    let mut on_disk = BTreeSet::new();
    for e in std::fs::read_dir(ffi).map_err(|e| e.to_string())? {
        let name = e.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy().into_owned();
        if name.ends_with(".rs") {
            on_disk.insert(name);
        }
    }
    let listed: BTreeSet<String> = SECTIONS.iter().map(|s| s.0.to_string()).collect();
    if on_disk != listed {
        panic!("src/ffi holds {on_disk:?} but build.rs's SECTIONS list {listed:?}");
    }
    SECTIONS
        .iter()
        .map(|&(name, title)| {
            let text = std::fs::read_to_string(ffi.join(name)).map_err(|e| e.to_string())?;
            let file = syn::parse_file(&text).map_err(|e| format!("src/ffi/{name}: {e}"))?;
            let mut s = Source {
                name,
                title,
                doc: docs(&file.attrs),
                items: Vec::new(),
                structs: BTreeSet::new(),
                others: BTreeSet::new(),
            };
            for item in file.items {
                match item {
                    syn::Item::Macro(m) if m.mac.path.is_ident("ffi_fn") => {
                        let mut f: syn::ItemFn = syn::parse2(m.mac.tokens)
                            .map_err(|e| format!("src/ffi/{name}: ffi_fn!: {e}"))?;
                        f.attrs.retain(|a| !a.path().is_ident("on_panic"));
                        f.block = Box::new(syn::parse_quote!({}));
                        s.items.push(syn::Item::Fn(f));
                    }
                    syn::Item::Struct(ref i) => {
                        s.structs.insert(i.ident.to_string());
                        s.items.push(item);
                    }
                    syn::Item::Enum(ref i) => {
                        s.others.insert(i.ident.to_string());
                        s.items.push(item);
                    }
                    syn::Item::Type(ref i) => {
                        s.others.insert(i.ident.to_string());
                        s.items.push(item);
                    }
                    syn::Item::Const(ref i)
                        if i.ident != "_" && matches!(i.vis, syn::Visibility::Public(_)) =>
                    {
                        s.others.insert(i.ident.to_string());
                        s.items.push(item);
                    }
                    _ => {}
                }
            }
            Ok(s)
        })
        .collect()
}

/// The text of doc attributes, one string per line.
fn docs(attrs: &[syn::Attribute]) -> Vec<String> {
    let mut lines = Vec::new();
    for a in attrs {
        if let syn::Meta::NameValue(nv) = &a.meta {
            if nv.path.is_ident("doc") {
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) = &nv.value
                {
                    for l in s.value().split('\n') {
                        lines.push(l.strip_prefix(' ').unwrap_or(l).trim_end().to_string());
                    }
                }
            }
        }
    }
    lines
}

fn header(dir: &Path, out: &Path, files: &[Source]) -> Result<String, String> {
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))?;
    let srcdir = out.join("cbindgen");
    std::fs::create_dir_all(&srcdir).map_err(|e| e.to_string())?;

    let mut bodies = Vec::new();
    for (i, section) in files.iter().enumerate() {
        // every file's items, the other sections' not written
        let mut items = Vec::new();
        let mut exclude = Vec::new();
        for (j, f) in files.iter().enumerate() {
            for item in &f.items {
                let mut item = item.clone();
                if j != i {
                    match &mut item {
                        // written whatever their annotations say
                        syn::Item::Const(_) => continue,
                        // a typedef hands its annotations to what it names;
                        // C refers to it by its bare name anyway
                        syn::Item::Type(t) => {
                            exclude.push(t.ident.to_string());
                            continue;
                        }
                        syn::Item::Fn(syn::ItemFn { attrs, .. })
                        | syn::Item::Struct(syn::ItemStruct { attrs, .. })
                        | syn::Item::Enum(syn::ItemEnum { attrs, .. }) => {
                            attrs.push(syn::parse_quote!(#[doc = "cbindgen:no-export"]))
                        }
                        _ => {}
                    }
                }
                items.push(item);
            }
        }
        let file = syn::File {
            shebang: None,
            attrs: Vec::new(),
            items,
        };
        let src = srcdir.join(section.name);
        std::fs::write(&src, file.to_token_stream().to_string()).map_err(|e| e.to_string())?;

        let mut c = config.clone();
        c.header = None;
        c.trailer = None;
        c.include_guard = None;
        c.pragma_once = false;
        c.autogen_warning = None;
        c.include_version = false;
        c.package_version = false;
        c.no_includes = true;
        c.sys_includes.clear();
        c.includes.clear();
        c.after_includes = None;
        c.cpp_compat = false;
        c.export.exclude.extend(exclude);
        let bindings = cbindgen::Builder::new()
            .with_config(c)
            .with_src(&src)
            .generate()
            .map_err(|e| format!("{}: {e}", section.name))?;
        let mut text = Vec::new();
        bindings.write(&mut text);
        bodies.push(String::from_utf8(text).map_err(|e| e.to_string())?);
    }

    let mut h = String::new();
    if let Some(top) = &config.header {
        h += top.trim_end();
        h += "\n\n";
    }
    let guard = config.include_guard.as_deref().unwrap_or("FASTSERVE_H");
    h += &format!("#ifndef {guard}\n#define {guard}\n\n");
    for inc in &config.sys_includes {
        h += &format!("#include <{inc}>\n");
    }
    for inc in &config.includes {
        h += &format!("#include \"{inc}\"\n");
    }
    if config.cpp_compat {
        h += "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n";
    }
    for (i, (section, body)) in files.iter().zip(&bodies).enumerate() {
        h += "\n";
        h += &banner(section)?;
        let forward = forward_declarations(body, &files[i + 1..])
            .map_err(|e| format!("section {}: {e}", section.title))?;
        if !forward.is_empty() {
            h += "\n";
            h += &forward;
        }
        if !body.trim().is_empty() {
            h += "\n";
            h += body.trim_end();
            h += "\n";
        }
    }
    if config.cpp_compat {
        h += "\n#ifdef __cplusplus\n}  /* extern \"C\" */\n#endif\n";
    }
    h += &format!("\n#endif  /* {guard} */\n");
    Ok(h)
}

fn banner(s: &Source) -> Result<String, String> {
    const RULE: &str = "==========================================================================";
    let mut b = format!("/* {RULE}\n * {}\n", s.title);
    let mut lines = s.doc.iter().peekable();
    if lines.peek().is_some() {
        b += " *\n";
    }
    for l in lines {
        if l.contains("*/") {
            return Err(format!("src/ffi/{}: \"*/\" in the module doc", s.name));
        }
        if l.is_empty() {
            b += " *\n";
        } else {
            b += &format!(" * {l}\n");
        }
    }
    b += &format!(" * {RULE} */\n");
    Ok(b)
}

/// `struct X;` for each struct of a later section that `body` uses; an
/// enum or typedef used before its section cannot be declared early.
fn forward_declarations(body: &str, later: &[Source]) -> Result<String, String> {
    let code = strip_comments(body);
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = String::new();
    for s in later {
        for name in &s.structs {
            let mut used = false;
            for (k, w) in words.iter().enumerate() {
                if w == name {
                    if k == 0 || words[k - 1] != "struct" {
                        return Err(format!("{name} is used before its section, {}", s.title));
                    }
                    used = true;
                }
            }
            if used {
                out += &format!("struct {name};  /* see \"{}\" */\n", s.title);
            }
        }
        for name in &s.others {
            if words.contains(&name.as_str()) {
                return Err(format!("{name} is used before its section, {}", s.title));
            }
        }
    }
    Ok(out)
}

fn strip_comments(c: &str) -> String {
    let mut out = String::new();
    let mut rest = c;
    while let Some(i) = rest.find("/*") {
        out += &rest[..i];
        rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
    }
    out += rest;
    out.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}
