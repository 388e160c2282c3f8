package jp.honnin.app.nfc

import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/**
 * The part of `android.nfc.tech.IsoDep` the transport uses, so that a fake can drive the
 * software card in JVM tests exactly as a tag would. Methods throw as `IsoDep` does:
 * `android.nfc.TagLostException` when the tag left, `java.io.IOException` for other failures.
 */
interface IsoDepLink {
    val isConnected: Boolean
    fun connect()
    fun close()
    fun setTimeout(millis: Int)
    val isExtendedLengthApduSupported: Boolean
    /** Largest command `transceive` takes, in bytes. */
    val maxTransceiveLength: Int
    fun transceive(command: ByteArray): ByteArray
}

/** Where a card that left the field comes back: each newly discovered tag, while a check waits. */
fun interface TagReturns {
    /** The next tag presented within [timeoutMillis], or `null`. */
    fun awaitNext(timeoutMillis: Long): IsoDepLink?
}

/**
 * Hands tags discovered during a check to the transport that waits for its card to return. Holds
 * at most the latest tag: an older one has left the field by then.
 */
class TagHandoff : TagReturns {
    private val latest = LinkedBlockingQueue<IsoDepLink>(1)

    fun offer(link: IsoDepLink) {
        synchronized(latest) {
            latest.clear()
            latest.offer(link)
        }
    }

    /** Drops a tag nobody waited for, so a new check does not pick up a stale one. */
    fun clear() = latest.clear()

    override fun awaitNext(timeoutMillis: Long): IsoDepLink? = latest.poll(timeoutMillis, TimeUnit.MILLISECONDS)
}
