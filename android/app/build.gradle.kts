import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

val generatedKotlin = layout.buildDirectory.dir("generated/uniffi").get().asFile
val rustJniLibs = layout.buildDirectory.dir("rustJniLibs").get().asFile
val generatedAssets = layout.buildDirectory.dir("generated/anchorAssets").get().asFile

// minSdk 28 (Android 9): StrongBox-backed Keystore keys (setIsStrongBoxBacked, API 28) without
// version branches; NFC reader mode (19), IsoDep extended length (16), JobScheduler network
// constraints (21) and java.time (26) all below it. Courier handhelds in service run 10 or later.
val honninMinSdk = 28

android {
    namespace = "jp.honnin.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "jp.honnin.app"
        minSdk = honninMinSdk
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets["main"].apply {
        java.srcDirs("src/main/kotlin", generatedKotlin)
        jniLibs.srcDir(rustJniLibs)
        assets.srcDir(generatedAssets)
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    // The UniFFI runtime calls the Rust library through JNA; on Android the AAR carries
    // libjnidispatch.so for each ABI.
    implementation("net.java.dev.jna:jna:5.19.1@aar")
    // The Kotlin half of rustls-platform-verifier (Android's certificate verifier, which the
    // Rust half calls through JNI; PlatformTrust.kt). No version here: the rule below takes it
    // from Cargo.lock, so that it is always the one the Rust crate was built against.
    implementation("org.rustls:rustls-platform-verifier")
}

// --- The Rust core ---------------------------------------------------------------------------

val rustWorkspace: File = rootProject.file(providers.gradleProperty("honnin.rustWorkspace").getOrElse(".."))
val rustSources = listOf("Cargo.toml", "Cargo.lock", "core", "bindings")
    .map { File(rustWorkspace, it) }
    .filter { it.exists() }
val cargo: String = providers.environmentVariable("CARGO").getOrElse("cargo")

// The version of rustls-platform-verifier's Kotlin component is that of the crate
// rustls-platform-verifier-android in the workspace's Cargo.lock (the crate's README, "Gradle
// Setup"): a different one may crash at run time. A ValueSource, so the configuration cache is
// invalidated when Cargo.lock changes.
abstract class RustlsPlatformVerifierVersion : ValueSource<String, RustlsPlatformVerifierVersion.Params> {
    interface Params : ValueSourceParameters {
        val lockFile: RegularFileProperty
    }

    companion object {
        const val CRATE_NAME = "rustls-platform-verifier-android"
    }

    override fun obtain(): String {
        val lines = parameters.lockFile.get().asFile.readLines()
        val at = lines.indexOfFirst { it.trim() == "name = \"$CRATE_NAME\"" }
        val version = if (at < 0) null else lines.drop(at + 1)
            .firstOrNull { it.trimStart().startsWith("version = ") }
            ?.substringAfter('"', "")
            ?.substringBefore('"', "")
            ?.takeIf { it.isNotEmpty() }
        return version ?: error("$CRATE_NAME not found in Cargo.lock")
    }
}

val rustlsPlatformVerifierVersion = providers.of(RustlsPlatformVerifierVersion::class.java) {
    parameters.lockFile.set(File(rustWorkspace, "Cargo.lock"))
}

configurations.configureEach {
    resolutionStrategy.eachDependency {
        if (requested.group == "org.rustls" && requested.name == "rustls-platform-verifier") {
            useVersion(rustlsPlatformVerifierVersion.get())
            because("must be the version of ${RustlsPlatformVerifierVersion.CRATE_NAME} in Cargo.lock")
        }
    }
}

// libhonnin_bindings.so for each ABI, with the NDK's clang (cargo-ndk finds the NDK through
// ANDROID_NDK_HOME, or the SDK's ndk/ directory). Release profile: the debug build of the core
// is too slow for RSA on a phone.
val cargoNdk by tasks.registering(Exec::class) {
    description = "Builds the Rust core for Android with cargo-ndk"
    group = "build"
    inputs.files(rustSources)
    outputs.dir(rustJniLibs)
    workingDir = rustWorkspace
    commandLine(
        cargo, "ndk",
        "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64",
        "--platform", honninMinSdk.toString(),
        "-o", rustJniLibs.absolutePath,
        "build", "--release", "-p", "honnin-bindings",
    )
}

// The workspace's own uniffi-bindgen, pinned with the uniffi crate, built for the host together
// with the host library it reads the interface from (library mode).
// Host file names: libhonnin_bindings.so on Linux, .dylib on macOS, .dll on Windows.
val hostExe = if (System.getProperty("os.name").startsWith("Windows")) ".exe" else ""
val hostBindgenFile = File(rustWorkspace, "target/debug/uniffi-bindgen$hostExe")
val hostLibraryFile = File(rustWorkspace, "target/debug/" + System.mapLibraryName("honnin_bindings"))

val hostBindgen by tasks.registering(Exec::class) {
    description = "Builds uniffi-bindgen and the host library it reads"
    group = "build"
    inputs.files(rustSources)
    outputs.files(hostBindgenFile, hostLibraryFile)
    workingDir = rustWorkspace
    commandLine(cargo, "build", "-p", "honnin-bindings", "--features", "bindgen")
}

val generateUniffiKotlin by tasks.registering(Exec::class) {
    description = "Generates the Kotlin bindings (package jp.honnin.core) for Android"
    group = "build"
    dependsOn(hostBindgen)
    inputs.files(hostBindgenFile, hostLibraryFile)
    outputs.dir(generatedKotlin)
    workingDir = rustWorkspace
    doFirst { delete(generatedKotlin) }
    commandLine(
        hostBindgenFile.absolutePath,
        "generate", "--language", "kotlin", "--no-format",
        "--config", "android/uniffi-app.toml",
        "--out-dir", generatedKotlin.absolutePath,
        hostLibraryFile.absolutePath,
    )
}

// The deployment's anchors are configuration, not source: -Phonnin.anchorsDir=<dir> (or
// gradle.properties) copies them into assets/anchors, where HonninApp loads them.
val anchorsDir = providers.gradleProperty("honnin.anchorsDir")
val copyTrustAnchors by tasks.registering(Copy::class) {
    description = "Copies the deployment's trust anchors into assets/anchors"
    if (anchorsDir.isPresent) from(anchorsDir.get())
    into(File(generatedAssets, "anchors"))
}

// The phone issuers' IACA certificates (level M): -Phonnin.mdocAnchorsDir=<dir>. Without them the
// app does not offer level M.
val mdocAnchorsDir = providers.gradleProperty("honnin.mdocAnchorsDir")
val copyPhoneIssuerAnchors by tasks.registering(Copy::class) {
    description = "Copies the phone issuers' IACA certificates into assets/mdoc-anchors"
    if (mdocAnchorsDir.isPresent) from(mdocAnchorsDir.get())
    into(File(generatedAssets, "mdoc-anchors"))
}

tasks.named("preBuild") {
    dependsOn(cargoNdk, generateUniffiKotlin, copyTrustAnchors, copyPhoneIssuerAnchors)
}
