package jp.honnin.app.screens

import android.nfc.TagLostException
import jp.honnin.app.keys.DeviceKey
import jp.honnin.app.keys.KeyWrapper
import jp.honnin.app.keys.Wrapped
import jp.honnin.app.nfc.IsoDepLink
import jp.honnin.app.records.EnrolmentMemory
import jp.honnin.app.records.ReceiverLink
import jp.honnin.core.Clock
import jp.honnin.core.SoftwareCardTransport
import java.io.IOException
import java.security.KeyPairGenerator
import java.security.SecureRandom
import java.security.Signature
import java.security.spec.ECGenParameterSpec
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.spec.GCMParameterSpec

/** The check time of the test PKI, 2026-11-25T00:00:00Z (every fixture card is valid then). */
object FixtureClock : Clock {
    override fun nowUnixSeconds(): Long = 1_795_564_800L
}

/** The records' clock: the machine's, so that today's history shows them. */
object WallClock : Clock {
    override fun nowUnixSeconds(): Long = System.currentTimeMillis() / 1000
}

/** The device key (EC P-256, SHA256withECDSA) with a java.security key in place of Keystore's. */
class JceDeviceKey : DeviceKey {
    private val pair = KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1")) }.generateKeyPair()

    override fun publicKeyDer(): ByteArray = pair.public.encoded

    override fun sign(message: ByteArray): ByteArray = Signature.getInstance("SHA256withECDSA").run {
        initSign(pair.private)
        update(message)
        sign()
    }
}

/** The store key's wrapper (AES-256-GCM) with a JCE key in place of Keystore's. */
class JceKeyWrapper : KeyWrapper {
    private val key = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()

    override fun wrap(plain: ByteArray): Wrapped {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding").apply { init(Cipher.ENCRYPT_MODE, key, SecureRandom()) }
        return Wrapped(cipher.iv, cipher.doFinal(plain))
    }

    override fun unwrap(wrapped: Wrapped): ByteArray = Cipher.getInstance("AES/GCM/NoPadding").run {
        init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, wrapped.iv))
        doFinal(wrapped.ciphertext)
    }
}

/** Enrolment's memory; the renderer never enrols, so records stay "waiting to send". */
class NoEnrolment : EnrolmentMemory {
    override fun receiverLink(): ReceiverLink? = null

    override fun remember(link: ReceiverLink) = Unit

    override fun keepSyncTrust(receiverKey: ByteArray?, tlsPins: jp.honnin.core.AnnouncedTlsPins?) = Unit

    override fun revocation(): String? = null

    override fun rememberRevocation(detail: String) = Unit
}

/**
 * The software card as a phone's `IsoDep` presents it, with the two things a screen needs to be
 * caught on: the read can be held at an exchange ([holdWhen], until [release]) while the
 * renderer draws "hold still", and the card can leave the field on an exchange ([loseOn]) and
 * stay away, as a courier's customer pulls the card back.
 */
class ScreenCardLink(
    private val card: SoftwareCardTransport,
    /** Short APDUs only: many small reads, so the progress bar moves. */
    override val isExtendedLengthApduSupported: Boolean = false,
    private val loseOn: Int? = null,
    private val holdWhen: (() -> Boolean)? = null,
) : IsoDepLink {
    override val maxTransceiveLength: Int = if (isExtendedLengthApduSupported) 65_546 else 261
    private var connected = false
    private var gone = false
    private val exchanges = AtomicInteger()
    private val held = CountDownLatch(1)
    private val released = CountDownLatch(1)

    override val isConnected: Boolean get() = connected

    override fun connect() {
        if (gone) throw IOException("Tag is out of range")
        connected = true
    }

    override fun close() {
        connected = false
    }

    override fun setTimeout(millis: Int) = Unit

    override fun transceive(command: ByteArray): ByteArray {
        check(connected) { "Call connect() first!" }
        if (exchanges.incrementAndGet() == loseOn) {
            gone = true
            connected = false
            throw TagLostException("Tag was lost.")
        }
        if (released.count > 0 && holdWhen?.invoke() == true) {
            held.countDown()
            released.await(60, TimeUnit.SECONDS)
        }
        return card.transmit(command)
    }

    /** Waits until the read is held (see [holdWhen]). */
    fun awaitHeld(seconds: Long = 60) = check(held.await(seconds, TimeUnit.SECONDS)) { "the read was never held" }

    fun release() = released.countDown()

    /** The same card found again by reader mode: a new tag object, the card powered anew. */
    fun rediscovered(): ScreenCardLink {
        card.reconnect()
        return ScreenCardLink(card, isExtendedLengthApduSupported)
    }
}
