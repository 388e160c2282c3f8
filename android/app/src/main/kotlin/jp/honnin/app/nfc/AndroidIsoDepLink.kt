package jp.honnin.app.nfc

import android.nfc.tech.IsoDep

/** The real tag: one-line delegations to `IsoDep`. */
class AndroidIsoDepLink(private val isoDep: IsoDep) : IsoDepLink {
    override val isConnected: Boolean get() = isoDep.isConnected

    override fun connect() = isoDep.connect()

    override fun close() = isoDep.close()

    override fun setTimeout(millis: Int) {
        isoDep.timeout = millis
    }

    override val isExtendedLengthApduSupported: Boolean get() = isoDep.isExtendedLengthApduSupported

    override val maxTransceiveLength: Int get() = isoDep.maxTransceiveLength

    override fun transceive(command: ByteArray): ByteArray = isoDep.transceive(command)
}
