package jp.honnin.app.flow

import jp.honnin.core.Level

/** What the courier or the holder types before the card is read. */
enum class SecretKind(val minLength: Int, val maxLength: Int) {
    /** 照合番号B, printed on the card: birth date YYMMDD + expiry year YYYY + security code. */
    MATCHING_NUMBER_B(14, 14),
    /** The 4-digit user-authentication PIN (level B). */
    AUTH_PIN(4, 4),
    /** The signing password, 6–16 of A–Z and 0–9 (level C). */
    SIGNING_PASSWORD(6, 16),
    ;

    fun accepts(c: Char): Boolean = when (this) {
        MATCHING_NUMBER_B, AUTH_PIN -> c in '0'..'9'
        SIGNING_PASSWORD -> c in '0'..'9' || c in 'A'..'Z'
    }

    companion object {
        fun forLevel(level: Level): SecretKind = when (level) {
            Level.A -> MATCHING_NUMBER_B
            Level.B -> AUTH_PIN
            Level.C -> SIGNING_PASSWORD
            Level.M -> throw IllegalArgumentException("level M reads a phone and asks for no secret")
        }
    }
}

/**
 * A secret as it is typed, in a `CharArray` that is wiped when it is used or abandoned. The
 * `String` the bindings take exists only for the one call ([useOnce]); the Rust side wipes its
 * copy as soon as it has parsed it.
 */
class SecretBuffer(val kind: SecretKind) {
    private val chars = CharArray(kind.maxLength)
    var length: Int = 0
        private set

    /** Whether [c] was taken: characters the kind does not allow, or past its length, are not. */
    fun append(c: Char): Boolean {
        if (length == kind.maxLength || !kind.accepts(c)) return false
        chars[length++] = c
        return true
    }

    fun backspace() {
        if (length > 0) chars[--length] = '\u0000'
    }

    val isComplete: Boolean get() = length in kind.minLength..kind.maxLength

    /** Hands the secret to [use] once, then wipes it; a second use gets nothing. */
    fun <R> useOnce(use: (String) -> R): R {
        check(length > 0) { "the secret was already used or wiped" }
        try {
            return use(String(chars, 0, length))
        } finally {
            wipe()
        }
    }

    fun wipe() {
        chars.fill('\u0000')
        length = 0
    }

    /** Never the secret itself. */
    override fun toString(): String = "SecretBuffer($kind, $length chars)"
}
