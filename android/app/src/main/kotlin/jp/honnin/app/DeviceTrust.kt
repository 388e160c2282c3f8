package jp.honnin.app

import jp.honnin.core.Clock
import jp.honnin.core.TrustBundle
import jp.honnin.core.TrustBundleInfo
import jp.honnin.core.Verifier

/** The trust bundle sync keeps, and a number that moves whenever it (or the key it is verified with) may have changed. */
interface TrustSource {
    val trustGeneration: Long

    /**
     * The kept bundle, verified now with the receipt key kept at enrolment (or learnt from a
     * rotation); `null` when no sync kept one. Throws `HonninException.TrustBundleInvalid` when
     * it does not verify.
     */
    fun keptTrustBundle(): TrustBundle?
}

/** What the door check trusts now. */
sealed interface TrustState {
    /** The anchors shipped in the APK: revocation is reported "not checked on device". */
    data object Shipped : TrustState

    /** The kept bundle's anchors and lists: revocation is checked on the device. */
    data class Bundle(val info: TrustBundleInfo) : TrustState

    /** A kept bundle that does not verify: it is not used (the APK's anchors are) until a sync replaces it. */
    data class BundleUnusable(val detail: String) : TrustState
}

/**
 * The door check's verifier: from the trust bundle the last sync kept (its anchors replace the
 * APK's, so an anchor the operator retired is no longer trusted, and its revocation lists make
 * each check name the list it used and its age, or fail its revocation check once the bundle
 * or a list is past its limit), else [shipped]. Rebuilt, on the caller's thread (the flow's
 * worker, never the main thread: it reads the store's directory), when [source] says the
 * bundle may have changed; otherwise the same verifier serves every check.
 */
class DeviceTrust(
    private val shipped: Verifier,
    private val source: TrustSource,
    private val clock: Clock,
) {
    /** [bundle] is kept (not only its info) so that [state] tells its age at the time asked. */
    private class Built(val generation: Long, val verifier: Verifier, val bundle: TrustBundle?, val unusable: String?)

    @Volatile
    private var built: Built? = null

    fun verifier(): Verifier = current().verifier

    /** What the door check trusts now, the bundle's age and freshness as of now. */
    fun state(): TrustState {
        val built = current()
        return when {
            built.unusable != null -> TrustState.BundleUnusable(built.unusable)
            built.bundle != null -> TrustState.Bundle(built.bundle.info(clock.nowUnixSeconds()))
            else -> TrustState.Shipped
        }
    }

    private fun current(): Built {
        val generation = source.trustGeneration
        built?.takeIf { it.generation == generation }?.let { return it }
        return synchronized(this) {
            built?.takeIf { it.generation == generation } ?: build(generation).also { built = it }
        }
    }

    private fun build(generation: Long): Built {
        val bundle = try {
            source.keptTrustBundle()
        } catch (e: Exception) {
            // Never used unverified, and never a check refused for it: the APK's anchors check
            // the card, revocation says "not checked on device", and the next sync replaces it.
            return Built(generation, shipped, null, e.toString())
        }
        if (bundle == null) return Built(generation, shipped, null, null)
        return Built(generation, Verifier.fromTrustBundle(bundle, clock), bundle, null)
    }
}
