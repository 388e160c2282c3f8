// honnin Android app. The Rust core is built by cargo-ndk from the workspace one level up
// (see app/build.gradle.kts); the app itself depends only on the Kotlin standard library and JNA.
pluginManagement {
    repositories {
        // The Android Gradle plugin is published only in Google's repository: it is a build tool
        // here, never a dependency of the app.
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    // The app's dependencies come from Maven Central (no AndroidX, no Google-only artifact), plus
    // the Kotlin component of rustls-platform-verifier (group org.rustls, nothing else), which
    // its authors publish only as a Maven repository on GitHub (their README, "Gradle Setup").
    // app/build.gradle.kts picks its version from Cargo.lock.
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        mavenCentral()
        maven {
            url = uri("https://github.com/rustls/rustls-platform-verifier/raw/maven-archive/android-release-support/maven/")
            content { includeGroup("org.rustls") }
        }
    }
}

rootProject.name = "honnin"
include(":app")
