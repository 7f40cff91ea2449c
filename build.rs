//! Generates `include/fastserve.h` with cbindgen and sets the shared library's
//! SONAME. The header is checked in; `make test` fails when the checked-in copy
//! differs from what this generates.

use std::path::PathBuf;

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libfastserve.so.0");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let header = match cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
    {
        Ok(h) => h,
        Err(e) => {
            // A syntax error is better reported by rustc itself.
            println!("cargo:warning=cbindgen: {e}");
            return;
        }
    };
    let mut text = Vec::new();
    header.write(&mut text);
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("fastserve.h");
    std::fs::write(&out, &text).unwrap();
    let path = dir.join("include/fastserve.h");
    if std::fs::read(&path).ok().as_deref() != Some(&text[..]) {
        std::fs::write(&path, &text).unwrap();
    }
}
