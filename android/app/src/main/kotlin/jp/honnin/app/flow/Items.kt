package jp.honnin.app.flow

import jp.honnin.core.Addressee
import jp.honnin.core.Level
import jp.honnin.core.RecordAttributes

/** The parcel at the door: what the check binds itself to, and whom it must match. */
data class Item(
    val itemId: String,
    val senderId: String,
    /** As the sender registered them; `null` when neither the manifest nor the courier gave one. */
    val addressee: Addressee?,
    /** The sender's minimum level for this item, from the manifest; `null` for a typed item. */
    val minimumLevel: Level? = null,
    /** What the record keeps of the holder's attributes, from the manifest; none for a typed item. */
    val attributes: RecordAttributes = RecordAttributes(),
) {
    // The addressee is personal data: never in a log line.
    override fun toString(): String = "Item($itemId, sender $senderId)"
}

/** One entry of the synced manifest (the sender's list of items for this round). */
data class ManifestEntry(
    val itemId: String,
    val senderId: String,
    val addressee: Addressee,
    /** The sender's minimum level for this item; `null` leaves it to [SenderPolicies]. */
    val minimumLevel: Level? = null,
    val attributes: RecordAttributes = RecordAttributes(),
) {
    override fun toString(): String = "ManifestEntry($itemId, sender $senderId)"
}

/**
 * Where items come from: the manifest the receiver signed and the sync downloaded
 * ([jp.honnin.app.CoreRecords]); [TypedEntryOnly] before enrolment.
 */
interface ItemDirectory {
    /** The entry for a typed or scanned item id, or `null` when the manifest does not list it. */
    fun lookup(itemId: String): ManifestEntry?
}

/** No manifest on the device: every item is entered by hand. */
object TypedEntryOnly : ItemDirectory {
    override fun lookup(itemId: String): ManifestEntry? = null
}

/** A manifest held in memory (tests, and the form a synced manifest takes once loaded). */
class ManifestDirectory(entries: Collection<ManifestEntry>) : ItemDirectory {
    private val byId = entries.associateBy { it.itemId }

    override fun lookup(itemId: String): ManifestEntry? = byId[itemId]
}

/** The minimum level each sender's policy asks for, where this device knows it. */
fun interface SenderPolicies {
    /**
     * The sender's minimum, or `null` when this device does not know the sender's policy: the
     * flow then offers every level with a warning and never picks level A on its own.
     */
    fun minimumLevel(senderId: String): Level?
}

/** Policies from a table; a sender the table does not name has no known minimum. */
class PolicyTable(private val minimum: Map<String, Level>) : SenderPolicies {
    override fun minimumLevel(senderId: String): Level? = minimum[senderId]
}

/**
 * The levels a policy accepts, weakest first: the policy's minimum and every stronger one. Level
 * M (the card in a phone's wallet) ranks between A and B, as the core ranks it: a sender asking
 * for A accepts a phone, one asking for B or C does not. It is offered only where the device can
 * check phones ([phones]: the phone issuers' anchors are configured).
 */
fun acceptedLevels(minimum: Level, phones: Boolean): List<Level> =
    Level.entries.filter { (phones || it != Level.M) && it.ordinal >= minimum.ordinal }

/** Levels below B prove no PIN: with an unknown sender minimum they are taken only once confirmed. */
val LEVELS_WITHOUT_PIN: Set<Level> = setOf(Level.A, Level.M)
