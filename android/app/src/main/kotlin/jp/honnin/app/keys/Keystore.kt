package jp.honnin.app.keys

import android.content.Context
import android.content.pm.PackageManager
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.Signature
import java.security.spec.ECGenParameterSpec
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

private const val ANDROID_KEYSTORE = "AndroidKeyStore"

private fun keyStore(): KeyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

/** Whether this device has a StrongBox secure element for keys (API 28+). */
fun hasStrongBox(context: Context): Boolean =
    context.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)

/**
 * Makes a Keystore key with [build], in StrongBox when the device has one; a device that
 * advertises StrongBox but cannot make this key there gets it in the TEE instead.
 */
private fun <T> inStrongBoxOrTee(strongBox: Boolean, build: (Boolean) -> T): T =
    if (strongBox) {
        try {
            build(true)
        } catch (e: StrongBoxUnavailableException) {
            build(false)
        }
    } else {
        build(false)
    }

/**
 * The device signing key: EC P-256 made inside Android Keystore and never exported. Records and
 * sync requests are signed with it; the receiver learns its public key at enrolment.
 */
class KeystoreDeviceKey(private val strongBox: Boolean, private val alias: String = ALIAS) : DeviceKey {
    /** The public key as a DER SubjectPublicKeyInfo. */
    override fun publicKeyDer(): ByteArray {
        privateKey()
        return keyStore().getCertificate(alias).publicKey.encoded
    }

    /** ECDSA P-256 with SHA-256 over [message], as DER `ECDSA-Sig-Value`. */
    override fun sign(message: ByteArray): ByteArray = Signature.getInstance("SHA256withECDSA").run {
        initSign(privateKey())
        update(message)
        sign()
    }

    @Synchronized
    private fun privateKey(): PrivateKey {
        (keyStore().getKey(alias, null) as? PrivateKey)?.let { return it }
        return inStrongBoxOrTee(strongBox) { inStrongBox ->
            val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
                .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
                .setDigests(KeyProperties.DIGEST_SHA256)
                .setIsStrongBoxBacked(inStrongBox)
                .build()
            KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, ANDROID_KEYSTORE)
                .apply { initialize(spec) }
                .generateKeyPair()
                .private
        }
    }

    companion object {
        const val ALIAS = "honnin-device-signing"
    }
}

/**
 * Wraps the store key with an AES-256-GCM key inside Android Keystore; the Keystore chooses
 * each IV (randomized encryption), so the app cannot reuse one.
 */
class KeystoreKeyWrapper(private val strongBox: Boolean, private val alias: String = ALIAS) : KeyWrapper {
    override fun wrap(plain: ByteArray): Wrapped {
        val cipher = Cipher.getInstance(TRANSFORMATION).apply { init(Cipher.ENCRYPT_MODE, secretKey()) }
        return Wrapped(cipher.iv, cipher.doFinal(plain))
    }

    override fun unwrap(wrapped: Wrapped): ByteArray {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, secretKey(), GCMParameterSpec(TAG_BITS, wrapped.iv))
        return cipher.doFinal(wrapped.ciphertext)
    }

    @Synchronized
    private fun secretKey(): SecretKey {
        (keyStore().getKey(alias, null) as? SecretKey)?.let { return it }
        return inStrongBoxOrTee(strongBox) { inStrongBox ->
            val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .setIsStrongBoxBacked(inStrongBox)
                .build()
            KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
                .apply { init(spec) }
                .generateKey()
        }
    }

    companion object {
        const val ALIAS = "honnin-store-wrap"
        private const val TRANSFORMATION = "AES/GCM/NoPadding"
        private const val TAG_BITS = 128
    }
}
