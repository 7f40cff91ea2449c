//! Sets the shared library's SONAME and generates the C header with cbindgen
//! into `$OUT_DIR/fastserve.h`, never into the source tree. `make header`
//! copies it to include/fastserve.h, which is checked in; `make test-header`
//! fails when the two differ.

use std::path::PathBuf;

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libfastserve.so.0");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("fastserve.h");
    let _ = std::fs::remove_file(&out);
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
    std::fs::write(&out, &text).unwrap();
}
