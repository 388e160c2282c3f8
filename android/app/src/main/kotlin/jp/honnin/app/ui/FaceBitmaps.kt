package jp.honnin.app.ui

import android.graphics.Bitmap
import jp.honnin.core.Image
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
