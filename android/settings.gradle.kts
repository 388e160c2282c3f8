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
    // The app's dependencies come from Maven Central alone (no AndroidX, no Google-only artifact).
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        mavenCentral()
    }
}

rootProject.name = "honnin"
include(":app")
