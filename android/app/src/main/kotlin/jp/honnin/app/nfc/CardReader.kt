package jp.honnin.app.nfc

import android.app.Activity
import android.nfc.NfcAdapter
import android.nfc.Tag
import android.nfc.tech.IsoDep
import android.os.Bundle
import jp.honnin.core.CardTransport

/**
 * NFC reader mode while the check screen is in front: NFC-A and NFC-B (My Number Cards are
 * Type B; A for readers that report it so, and for phones, whose wallets answer as Type A), no
 * NDEF check (the card has none; a phone's NDEF handover is read by the core itself, inside the
 * check, and the platform's check would cost time and commands), no platform sound (the app
 * says what happened).
 *
 * Card or phone is not decided here: every ISO-DEP tag goes to the flow, which asks the tag
 * (`detectCredential`, SELECT commands only) and runs the card levels or the phone check.
 *
 * A tag goes to [onCard] when a check waits for one; otherwise to the check that waits for its
 * card to come back after a tag loss ([handoff]).
 */
class CardReader(
    private val activity: Activity,
    private val onCard: (CardTransport) -> Boolean,
) : NfcAdapter.ReaderCallback {
    private val adapter: NfcAdapter? = NfcAdapter.getDefaultAdapter(activity)
    private val handoff = TagHandoff()

    val isAvailable: Boolean get() = adapter != null
    val isEnabled: Boolean get() = adapter?.isEnabled == true

    /** From `onResume`. */
    fun start() {
        val options = Bundle().apply {
            // Presence checks every few seconds would interrupt a long read; the core notices loss itself.
            putInt(NfcAdapter.EXTRA_READER_PRESENCE_CHECK_DELAY, PRESENCE_CHECK_DELAY_MILLIS)
        }
        adapter?.enableReaderMode(activity, this, READER_FLAGS, options)
    }

    /** From `onPause`. */
    fun stop() {
        adapter?.disableReaderMode(activity)
        handoff.clear()
    }

    override fun onTagDiscovered(tag: Tag) {
        val isoDep = IsoDep.get(tag) ?: return
        val link = AndroidIsoDepLink(isoDep)
        handoff.clear()
        if (!onCard(IsoDepTransport(link, handoff))) handoff.offer(link)
    }

    companion object {
        const val READER_FLAGS = NfcAdapter.FLAG_READER_NFC_A or NfcAdapter.FLAG_READER_NFC_B or
            NfcAdapter.FLAG_READER_SKIP_NDEF_CHECK or NfcAdapter.FLAG_READER_NO_PLATFORM_SOUNDS
        const val PRESENCE_CHECK_DELAY_MILLIS = 1_000
    }
}
