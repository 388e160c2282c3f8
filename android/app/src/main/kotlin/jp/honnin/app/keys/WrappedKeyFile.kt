package jp.honnin.app.keys

import java.io.File
import java.io.FileOutputStream
import java.io.IOException
import java.security.SecureRandom

/** Encrypts small secrets under a key the app cannot read (Android Keystore on a device). */
interface KeyWrapper {
    /** Returns the IV and the ciphertext (with its authentication tag). */
    fun wrap(plain: ByteArray): Wrapped
    /** Throws when [wrapped] was not made by [wrap] with this key (tampered, or another key). */
    fun unwrap(wrapped: Wrapped): ByteArray
}

class Wrapped(val iv: ByteArray, val ciphertext: ByteArray)

/**
 * The record store's 32-byte encryption key, kept on disk only wrapped by [wrapper]: made on
 * first use, then unwrapped each time the store opens. Plain Kotlin over [KeyWrapper], so the
 * file handling is tested on the JVM; [KeystoreKeyWrapper] is the device's wrapper.
 *
 * File: `"HNK1"`, IV length (1 byte), IV, ciphertext. Written to a temporary file, synced and
 * renamed, so a kill leaves either no key or a whole one (and no store exists before the key).
 */
class WrappedKeyFile(
    private val file: File,
    private val wrapper: KeyWrapper,
    private val random: SecureRandom = SecureRandom(),
) {
    /** Whether the key was made (a store may exist only after it). */
    val exists: Boolean get() = file.exists()

    /** The key; the caller wipes the array when done with it. */
    @Synchronized
    fun storeKey(): ByteArray {
        if (file.exists()) return wrapper.unwrap(read())
        val key = ByteArray(KEY_BYTES).also(random::nextBytes)
        write(wrapper.wrap(key))
        return key
    }

    private fun read(): Wrapped {
        val bytes = file.readBytes()
        if (bytes.size < MAGIC.size + 1 || !bytes.copyOfRange(0, MAGIC.size).contentEquals(MAGIC)) {
            throw IOException("${file.name} is not a wrapped store key")
        }
        val ivLength = bytes[MAGIC.size].toInt() and 0xFF
        val ivEnd = MAGIC.size + 1 + ivLength
        if (bytes.size <= ivEnd) throw IOException("${file.name} is truncated")
        return Wrapped(bytes.copyOfRange(MAGIC.size + 1, ivEnd), bytes.copyOfRange(ivEnd, bytes.size))
    }

    private fun write(wrapped: Wrapped) {
        require(wrapped.iv.size <= 255) { "IV too long" }
        file.parentFile?.mkdirs()
        val temporary = File(file.parentFile, "${file.name}.tmp")
        FileOutputStream(temporary).use { out ->
            out.write(MAGIC)
            out.write(wrapped.iv.size)
            out.write(wrapped.iv)
            out.write(wrapped.ciphertext)
            out.fd.sync()
        }
        if (!temporary.renameTo(file)) throw IOException("cannot move ${temporary.name} into place")
    }

    companion object {
        const val KEY_BYTES = 32
        private val MAGIC = "HNK1".toByteArray(Charsets.US_ASCII)
    }
}
