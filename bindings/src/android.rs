//! Android only: the JNI entry point that gives rustls-platform-verifier the app's `Context`,
//! so that a receiver enrolled without a pin is checked against Android's own trust store
//! (`ReceiverConfig.use_platform_trust`).
//!
//! Kotlin: `jp.honnin.app.PlatformTrust.init(context)`, called once from the Application's
//! `onCreate` before any sync. Everything else in this crate is reached through UniFFI and JNA;
//! this one function is a plain JNI native method, because the verifier needs a `JNIEnv` and the
//! `Context`, which JNA cannot hand over.
//!
//! The crate denies unsafe code and allows it for this module alone (`lib.rs`): the only
//! "unsafe" here is the `#[unsafe(export_name = "Java_jp_honnin_app_PlatformTrust_init")]` that
//! `jni_mangle` generates, which the JVM needs to find the method. The body is safe Rust (jni's
//! `EnvUnowned::with_env`), and a JNI error or a panic becomes a Java `RuntimeException`, never
//! an unwind across the FFI.

use jni::EnvUnowned;
use jni::errors::ThrowRuntimeExAndDefault;
use jni::jni_mangle;
use jni::objects::{JClass, JObject};

/// `PlatformTrust.init(context: Context)`: keeps the JVM, the application context and its class
/// loader for the verifier. Idempotent: a second call keeps the first context.
#[jni_mangle("jp.honnin.app.PlatformTrust")]
pub fn init<'caller>(
    mut unowned_env: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    context: JObject<'caller>,
) {
    unowned_env
        .with_env(|env| rustls_platform_verifier::android::init_with_env(env, context))
        .resolve::<ThrowRuntimeExAndDefault>();
}
