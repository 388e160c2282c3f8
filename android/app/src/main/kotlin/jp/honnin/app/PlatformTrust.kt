package jp.honnin.app

import android.content.Context

/**
 * Android's trust store for the sync's TLS: a receiver enrolled without a pin is checked by
 * rustls-platform-verifier, which calls Android's certificate verifier (its Kotlin component,
 * `org.rustls:rustls-platform-verifier`, see app/build.gradle.kts) through JNI. The Rust side
 * needs the JVM and the application context once, before any sync: [HonninApp.onCreate] calls
 * [init].
 *
 * Everything else reaches the core through JNA (UniFFI); this one method is a JNI `external`, so
 * the library is also loaded with [System.loadLibrary] (the same file JNA opens; loading twice is
 * harmless). Never called from the JVM tests: off Android the verifier reads the OS store directly.
 */
object PlatformTrust {
    init {
        System.loadLibrary("honnin_bindings")
    }

    /** Gives the verifier the application context; a second call keeps the first. */
    @JvmStatic
    external fun init(context: Context)
}
