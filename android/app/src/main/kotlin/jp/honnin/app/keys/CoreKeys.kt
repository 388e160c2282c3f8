package jp.honnin.app.keys

import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.UserNotAuthenticatedException
import jp.honnin.core.DeviceSigner
import jp.honnin.core.DeviceSignerException
import jp.honnin.core.KeyProvider
import jp.honnin.core.KeyProviderException
import java.io.File
import java.io.IOException
import java.security.GeneralSecurityException
import java.security.KeyStoreException
import java.security.ProviderException
import java.security.UnrecoverableKeyException
import javax.crypto.AEADBadTagException

/** The device's signing key as the app uses it; [KeystoreDeviceKey] on a device. */
interface DeviceKey {
    /** DER SubjectPublicKeyInfo. */
    fun publicKeyDer(): ByteArray

    /** ECDSA P-256 with SHA-256, DER `ECDSA-Sig-Value`. */
    fun sign(message: ByteArray): ByteArray
}

/**
 * [key] as the bindings' [DeviceSigner]. The core checks every signature against the public key
 * before it stores or sends anything, so this only says why the key failed: a key that cannot
 * be used now (locked, invalidated, gone) from a signing that failed.
 */
class DeviceKeySigner(private val key: DeviceKey) : DeviceSigner {
    override fun publicKeyDer(): ByteArray = mapped { key.publicKeyDer() }

    override fun sign(message: ByteArray): ByteArray = mapped { key.sign(message) }

    private fun <T> mapped(call: () -> T): T = try {
        call()
    } catch (e: UserNotAuthenticatedException) {
        throw DeviceSignerException.KeyUnavailable(e.toString())
    } catch (e: KeyPermanentlyInvalidatedException) {
        throw DeviceSignerException.KeyUnavailable(e.toString())
    } catch (e: UnrecoverableKeyException) {
        throw DeviceSignerException.KeyUnavailable(e.toString())
    } catch (e: KeyStoreException) {
        throw DeviceSignerException.KeyUnavailable(e.toString())
    } catch (e: GeneralSecurityException) {
        throw DeviceSignerException.SigningFailed(e.toString())
    } catch (e: ProviderException) {
        // Android Keystore reports many of its own failures as this RuntimeException.
        throw DeviceSignerException.SigningFailed(e.toString())
    }
}

/**
 * The store key from [keyFile] as the bindings' [KeyProvider], for the store at [storeFile].
 *
 * UniFFI copies the returned array into Rust (which wipes its copy once the store holds the
 * key) only after [storeKey] returns, so the array cannot be wiped there: every array handed out
 * is remembered and [wipeHandedOut] overwrites them once the core call that asked has returned.
 */
class WrappedStoreKeyProvider(private val keyFile: WrappedKeyFile, private val storeFile: File) : KeyProvider {
    private val handedOut = mutableListOf<ByteArray>()

    override fun storeKey(): ByteArray {
        // A new key would only turn "the key is gone" into "wrong key" (StoreWrongKey).
        if (storeFile.exists() && !keyFile.exists) {
            throw KeyProviderException.Missing("the store exists but its wrapped key file is gone")
        }
        val key = try {
            keyFile.storeKey()
        } catch (e: UserNotAuthenticatedException) {
            throw KeyProviderException.Unavailable(e.toString())
        } catch (e: KeyPermanentlyInvalidatedException) {
            throw KeyProviderException.Missing(e.toString())
        } catch (e: AEADBadTagException) {
            // Tampered with, or wrapped by a Keystore key that no longer exists.
            throw KeyProviderException.Missing(e.toString())
        } catch (e: GeneralSecurityException) {
            throw KeyProviderException.Unavailable(e.toString())
        } catch (e: IOException) {
            throw KeyProviderException.Unavailable(e.toString())
        } catch (e: ProviderException) {
            throw KeyProviderException.Unavailable(e.toString())
        }
        synchronized(handedOut) { handedOut.add(key) }
        return key
    }

    /** Overwrites every key handed out since the last call; call it after each core call. */
    fun wipeHandedOut() = synchronized(handedOut) {
        handedOut.forEach { it.fill(0) }
        handedOut.clear()
    }
}
