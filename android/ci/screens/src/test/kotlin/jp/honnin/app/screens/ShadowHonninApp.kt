package jp.honnin.app.screens

import jp.honnin.app.HonninApp
import jp.honnin.app.Services
import org.robolectric.annotation.Implementation
import org.robolectric.annotation.Implements
import org.robolectric.shadows.ShadowApplication

/**
 * [HonninApp] with the renderer's [Services]: its own `onCreate` needs what only a device has
 * (the JNI platform verifier, Android Keystore, the deployment's trust anchors in assets).
 * MainActivity reaches its services only through `HonninApp.services`, so that is all this
 * replaces; the activity itself runs as it is.
 */
@Implements(HonninApp::class)
class ShadowHonninApp : ShadowApplication() {
    @Implementation
    protected fun onCreate() {
    }

    @Implementation
    fun getServices(): Services = checkNotNull(services) { "set ShadowHonninApp.services before the activity starts" }

    companion object {
        @Volatile
        var services: Services? = null
    }
}
