package jp.honnin.app

import android.content.SharedPreferences

/**
 * SharedPreferences in memory, for [DeviceSettings] on the JVM: an editor's changes land
 * together on [commit] (as Android writes the whole file anew), and [commits] counts them.
 */
class MapPreferences(initial: Map<String, Any> = emptyMap()) : SharedPreferences {
    private val values = HashMap<String, Any>(initial)
    var commits = 0
        private set

    @Synchronized override fun getAll(): Map<String, *> = HashMap(values)
    @Synchronized override fun getString(key: String, defValue: String?): String? = values[key] as String? ?: defValue
    @Suppress("UNCHECKED_CAST")
    @Synchronized override fun getStringSet(key: String, defValues: Set<String>?): Set<String>? = values[key] as Set<String>? ?: defValues
    @Synchronized override fun getInt(key: String, defValue: Int): Int = values[key] as Int? ?: defValue
    @Synchronized override fun getLong(key: String, defValue: Long): Long = values[key] as Long? ?: defValue
    @Synchronized override fun getFloat(key: String, defValue: Float): Float = values[key] as Float? ?: defValue
    @Synchronized override fun getBoolean(key: String, defValue: Boolean): Boolean = values[key] as Boolean? ?: defValue
    @Synchronized override fun contains(key: String): Boolean = key in values
    override fun registerOnSharedPreferenceChangeListener(listener: SharedPreferences.OnSharedPreferenceChangeListener) = Unit
    override fun unregisterOnSharedPreferenceChangeListener(listener: SharedPreferences.OnSharedPreferenceChangeListener) = Unit

    override fun edit(): SharedPreferences.Editor = object : SharedPreferences.Editor {
        private val puts = HashMap<String, Any?>()
        private var clear = false

        override fun putString(key: String, value: String?) = apply { puts[key] = value }
        override fun putStringSet(key: String, values: Set<String>?) = apply { puts[key] = values?.toSet() }
        override fun putInt(key: String, value: Int) = apply { puts[key] = value }
        override fun putLong(key: String, value: Long) = apply { puts[key] = value }
        override fun putFloat(key: String, value: Float) = apply { puts[key] = value }
        override fun putBoolean(key: String, value: Boolean) = apply { puts[key] = value }
        override fun remove(key: String) = apply { puts[key] = null }
        override fun clear() = apply { clear = true }

        override fun commit(): Boolean = synchronized(this@MapPreferences) {
            if (clear) values.clear()
            // As Android: a null value removes the key.
            for ((key, value) in puts) if (value == null) values.remove(key) else values[key] = value
            commits++
            true
        }

        override fun apply() {
            commit()
        }
    }
}
