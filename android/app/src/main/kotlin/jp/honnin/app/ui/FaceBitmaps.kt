package jp.honnin.app.ui

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import jp.honnin.core.Image
import jp.honnin.core.Portrait
import jp.honnin.core.PortraitFormat
import java.nio.ByteBuffer

/**
 * The card-face image as a bitmap for the comparison screen. ARGB_8888 keeps its pixels as
 * R, G, B, A bytes in memory, which is the core's RGBA order, so the bytes copy as they are.
 * The bitmap lives in memory only and is recycled when the screen changes.
 */
fun Image.toBitmap(): Bitmap {
    val bitmap = Bitmap.createBitmap(width.toInt(), height.toInt(), Bitmap.Config.ARGB_8888)
    bitmap.copyPixelsFromBuffer(ByteBuffer.wrap(rgba))
    return bitmap
}

/**
 * The phone's portrait as a bitmap for the comparison screen: the core's decoding where it made
 * one (JPEG 2000, which Android does not decode), else Android's own JPEG decoder; `null` when
 * neither can, and the courier compares with the phone's screen instead.
 */
fun Portrait.toBitmap(): Bitmap? = decoded?.toBitmap() ?: when (format) {
    PortraitFormat.JPEG -> BitmapFactory.decodeByteArray(bytes, 0, bytes.size)
    PortraitFormat.JPEG2000, PortraitFormat.UNKNOWN -> null
}
