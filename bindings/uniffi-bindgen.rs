//! `uniffi-bindgen`, the same version as the `uniffi` crate the bindings are built with.
//! Library mode: `uniffi-bindgen generate --language kotlin --out-dir <dir> <libhonnin_bindings.so>`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
