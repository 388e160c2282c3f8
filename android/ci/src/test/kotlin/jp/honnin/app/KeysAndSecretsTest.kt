package jp.honnin.app

import jp.honnin.app.flow.SecretBuffer
import jp.honnin.app.flow.SecretKind
import jp.honnin.app.keys.KeyWrapper
import jp.honnin.app.keys.Wrapped
import jp.honnin.app.keys.WrappedKeyFile
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.io.File
import java.security.GeneralSecurityException
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/** AES-GCM in the JVM, as the Keystore key does it on the device (Keystore picks the IV). */
class JceKeyWrapper(private val key: SecretKey = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()) : KeyWrapper {
    var wraps = 0
    /** Every plaintext key [unwrap] returned, to check that whoever took it wiped it. */
    val unwrapped: MutableList<ByteArray> = java.util.Collections.synchronizedList(mutableListOf())

    override fun wrap(plain: ByteArray): Wrapped {
        wraps++
        val cipher = Cipher.getInstance("AES/GCM/NoPadding").apply { init(Cipher.ENCRYPT_MODE, key, SecureRandom()) }
        return Wrapped(cipher.iv, cipher.doFinal(plain))
    }

    override fun unwrap(wrapped: Wrapped): ByteArray = Cipher.getInstance("AES/GCM/NoPadding").run {
        init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, wrapped.iv))
        doFinal(wrapped.ciphertext)
    }.also { unwrapped.add(it) }
}

class KeysAndSecretsTest {
    @Test
    fun `the store key is made once, kept only wrapped, and the same on every open`(@TempDir dir: File) {
        val wrapper = JceKeyWrapper()
        val file = File(dir, "store-key.wrapped")
        val first = WrappedKeyFile(file, wrapper).storeKey()
        assertEquals(32, first.size)
        val again = WrappedKeyFile(file, wrapper).storeKey()
        assertArrayEquals(first, again)
        assertEquals(1, wrapper.wraps, "wrapped once, on creation")
        val onDisk = file.readBytes()
        assertFalse(onDisk.toList().windowed(32).any { it == first.toList() }, "the key is not on disk in clear")
        assertFalse(File(dir, "store-key.wrapped.tmp").exists())
    }

    @Test
    fun `a wrapped key that was tampered with or wrapped by another key is refused`(@TempDir dir: File) {
        val file = File(dir, "store-key.wrapped")
        WrappedKeyFile(file, JceKeyWrapper()).storeKey()
        assertThrows<GeneralSecurityException> { WrappedKeyFile(file, JceKeyWrapper()).storeKey() }

        val wrapper = JceKeyWrapper()
        file.delete()
        WrappedKeyFile(file, wrapper).storeKey()
        val bytes = file.readBytes()
        bytes[bytes.size - 1] = (bytes[bytes.size - 1].toInt() xor 1).toByte()
        file.writeBytes(bytes)
        assertThrows<GeneralSecurityException> { WrappedKeyFile(file, wrapper).storeKey() }

        file.writeBytes(byteArrayOf(1, 2, 3))
        assertThrows<java.io.IOException> { WrappedKeyFile(file, wrapper).storeKey() }
    }

    @Test
    fun `a secret buffer takes only what its kind allows, is used once and wiped`() {
        val pin = SecretBuffer(SecretKind.AUTH_PIN)
        assertFalse(pin.append('A'))
        "12345".forEach { pin.append(it) }
        assertEquals(4, pin.length, "four digits at most")
        assertTrue(pin.isComplete)
        assertEquals("SecretBuffer(AUTH_PIN, 4 chars)", pin.toString(), "toString never shows the secret")
        assertEquals("1234", pin.useOnce { it })
        assertEquals(0, pin.length)
        assertThrows<IllegalStateException> { pin.useOnce { it } }

        val password = SecretBuffer(SecretKind.SIGNING_PASSWORD)
        "abc".forEach { assertFalse(password.append(it), "lower case is not in a signing password") }
        "ABC12".forEach { password.append(it) }
        assertFalse(password.isComplete, "six characters at least")
        password.append('Z')
        assertTrue(password.isComplete)
    }
}
