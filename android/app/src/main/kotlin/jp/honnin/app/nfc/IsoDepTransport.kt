package jp.honnin.app.nfc

import android.nfc.TagLostException
import jp.honnin.core.CardTransport
import jp.honnin.core.TransportCapabilities
import jp.honnin.core.TransportException
import java.io.IOException

/**
 * The core's card transport over an ISO-DEP tag (the bindings' `CardTransport` callback). It only
 * moves bytes and translates failures; reading, resuming and stepping down are the core's.
 *
 * - Capabilities are what the tag and the phone's controller report (`isExtendedLengthApduSupported`,
 *   `maxTransceiveLength`): the core then reads a 4 KB photo in one or two commands, or steps down.
 * - `TagLostException` (and the stale-tag `SecurityException`) become `TransportException.TagLost`,
 *   so the core calls [reconnect], waits for the card and resumes where it was.
 * - A command longer than the link takes is refused before it is sent (`LengthNotSupported`).
 *
 * Calls come from the check's worker thread, one at a time.
 */
class IsoDepTransport(
    initial: IsoDepLink,
    private val returns: TagReturns,
    /** Generous: the card's RSA signature and a slow reader take well over Android's default. */
    private val timeoutMillis: Int = DEFAULT_TIMEOUT_MILLIS,
    /** How long one reconnect waits for the card to come back (the core tries three times). */
    private val returnWaitMillis: Long = DEFAULT_RETURN_WAIT_MILLIS,
) : CardTransport {
    @Volatile
    private var link: IsoDepLink = initial

    private fun connected(): IsoDepLink {
        val current = link
        if (!current.isConnected) {
            current.connect()
            current.setTimeout(timeoutMillis)
        }
        return current
    }

    override fun capabilities(): TransportCapabilities = linkCall {
        val current = connected()
        TransportCapabilities(
            extendedLength = current.isExtendedLengthApduSupported,
            maxResponseLen = current.maxTransceiveLength.toUInt(),
        )
    }

    override fun transmit(command: ByteArray): ByteArray = linkCall {
        val current = connected()
        if (command.size > current.maxTransceiveLength) throw TransportException.LengthNotSupported()
        current.transceive(command)
    }

    override fun reconnect() {
        // A brief fade of the field leaves the same tag answering: try it first.
        val same = link
        runCatching { same.close() }
        if (runCatching { same.connect(); same.setTimeout(timeoutMillis) }.isSuccess) return
        // Otherwise reader mode discovers the card anew when it returns.
        val next = returns.awaitNext(returnWaitMillis) ?: throw TransportException.TagLost()
        linkCall {
            next.connect()
            next.setTimeout(timeoutMillis)
        }
        link = next
    }

    /** Closes the tag; the transport is done. */
    fun close() {
        runCatching { link.close() }
    }

    private inline fun <T> linkCall(call: () -> T): T = try {
        call()
    } catch (e: TagLostException) {
        throw TransportException.TagLost()
    } catch (e: SecurityException) {
        // "Tag … is out of date": the tag object outlived its card in the field.
        throw TransportException.TagLost()
    } catch (e: IOException) {
        // IsoDep says "Transceive length exceeds supported maximum" for sizes, "Transceive
        // failed" for the rest (no answer in time included). Its messages carry no card data.
        if (e.message?.contains("exceeds", ignoreCase = true) == true) throw TransportException.LengthNotSupported()
        throw TransportException.Reader("IsoDep: ${e.message ?: e.javaClass.simpleName}")
    } catch (e: IllegalStateException) {
        // "Call connect() first!" after the tag was closed under us.
        throw TransportException.TagLost()
    }

    companion object {
        const val DEFAULT_TIMEOUT_MILLIS = 5_000
        const val DEFAULT_RETURN_WAIT_MILLIS = 5_000L
    }
}
