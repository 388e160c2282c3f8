package jp.honnin.app.sync

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.ComponentName
import android.content.Context
import jp.honnin.app.HonninApp
import jp.honnin.app.records.SyncOutcome
import jp.honnin.app.records.SyncRequests
import jp.honnin.core.CancellationToken
import java.util.concurrent.Executors

/**
 * Sends pending records when a network is there. JobScheduler starts it under a network
 * constraint, so a courier offline in a basement loses nothing and waits for nothing: the door
 * check stores its record and goes on, and this job runs on its own thread later. The same
 * service runs the periodic refresh ([JobSchedulerSyncRequests.schedulePeriodic]): a sync with
 * no record to send still follows the receiver's keys and fetches the manifest and the trust
 * bundle.
 */
class SyncJobService : JobService() {
    private val thread = Executors.newSingleThreadExecutor()
    @Volatile
    private var cancellation: CancellationToken? = null

    override fun onStartJob(params: JobParameters): Boolean {
        val sync = (application as HonninApp).services.sync
        val token = CancellationToken().also { cancellation = it }
        thread.execute {
            val outcome = try {
                sync.syncPending(token)
            } catch (e: RuntimeException) {
                // A bug must not leave the job running until the system kills it.
                SyncOutcome.Failed(retryable = true, detail = e.toString())
            }
            // A revoked device never syncs again: its periodic refresh goes too.
            if (outcome is SyncOutcome.Revoked) JobSchedulerSyncRequests(this).cancelPeriodic()
            // Stopped by the system: onStopJob already asked for the reschedule.
            if (!token.isCancelled()) jobFinished(params, runAgain(outcome))
        }
        return true
    }

    override fun onStopJob(params: JobParameters): Boolean {
        // The network went away: the core sends no further request, the one in flight ends
        // within its timeout and its receipts are applied, and a record counts as synced only
        // on a verified receipt, so stopping here loses nothing.
        cancellation?.cancel()
        return true
    }

    override fun onDestroy() {
        thread.shutdownNow()
        super.onDestroy()
    }
}

/**
 * Whether the job runs again with its backoff: records made while this sync ran, a receiver
 * that was briefly away (also for the trust bundle alone) or a stopped sync. A device that is
 * not enrolled waits for enrolment; a revoked one never syncs again.
 */
fun runAgain(outcome: SyncOutcome): Boolean = when (outcome) {
    is SyncOutcome.Done -> outcome.remaining > 0 || outcome.trustOutOfDate
    is SyncOutcome.Failed -> outcome.retryable
    SyncOutcome.NotEnrolled -> false
    is SyncOutcome.Revoked -> false
}

/** Schedules [SyncJobService]: at most one job, any network, exponential backoff, kept across reboots. */
class JobSchedulerSyncRequests(private val context: Context) : SyncRequests {
    private val scheduler: JobScheduler? get() = context.getSystemService(JobScheduler::class.java)

    override fun requestSync() {
        val scheduler = scheduler ?: return
        // Re-scheduling a job that is pending replaces it, and one that is running would be
        // stopped: leave either alone, it sends every pending record including this one.
        if (scheduler.getPendingJob(SYNC_JOB_ID) != null) return
        val job = JobInfo.Builder(SYNC_JOB_ID, ComponentName(context, SyncJobService::class.java))
            .setRequiredNetworkType(JobInfo.NETWORK_TYPE_ANY)
            .setBackoffCriteria(BACKOFF_MILLIS, JobInfo.BACKOFF_POLICY_EXPONENTIAL)
            .setPersisted(true)
            .build()
        scheduler.schedule(job)
    }

    /**
     * The periodic refresh: with no record to send for a day and a half, the kept trust bundle
     * would expire and every check fail its revocation check ("expired bundle"), and the
     * manifest would run out. Kept as it is when already scheduled as wanted ([PeriodicSync]).
     */
    fun schedulePeriodic() {
        val scheduler = scheduler ?: return
        val held = scheduler.getPendingJob(PeriodicSync.JOB_ID)?.let(PeriodicSync::specOf)
        if (!PeriodicSync.needsScheduling(held)) return
        scheduler.schedule(PeriodicSync.job(ComponentName(context, SyncJobService::class.java)))
    }

    fun cancelPeriodic() {
        scheduler?.cancel(PeriodicSync.JOB_ID)
    }

    companion object {
        const val SYNC_JOB_ID = 8001
        const val BACKOFF_MILLIS = 30_000L
    }
}

/** What a periodic job asks of JobScheduler, as it can be compared with the one held. */
data class PeriodicJobSpec(val intervalMillis: Long, val flexMillis: Long, val needsNetwork: Boolean, val persisted: Boolean)

/** The periodic refresh job, and when the one JobScheduler holds must be replaced. */
object PeriodicSync {
    const val JOB_ID = 8002

    /**
     * Every 4 hours (JobScheduler runs it within the last hour of each period, when a network is
     * there), kept across reboots: a bundle lives 36 hours, so several refreshes can be missed
     * (a day in a basement, the device off overnight) before it goes stale.
     */
    val WANTED = PeriodicJobSpec(intervalMillis = 4 * 3_600_000L, flexMillis = 3_600_000L, needsNetwork = true, persisted = true)

    fun job(service: ComponentName): JobInfo = JobInfo.Builder(JOB_ID, service)
        .setRequiredNetworkType(JobInfo.NETWORK_TYPE_ANY)
        .setPeriodic(WANTED.intervalMillis, WANTED.flexMillis)
        .setBackoffCriteria(JobSchedulerSyncRequests.BACKOFF_MILLIS, JobInfo.BACKOFF_POLICY_EXPONENTIAL)
        .setPersisted(WANTED.persisted)
        .build()

    /** The settings of a job JobScheduler holds; `null` for a one-off job. */
    fun specOf(held: JobInfo): PeriodicJobSpec? =
        if (!held.isPeriodic) null else PeriodicJobSpec(held.intervalMillis, held.flexMillis, held.requiredNetwork != null, held.isPersisted)

    /**
     * Scheduling a periodic job again restarts its period, so one already held as wanted is
     * left alone: otherwise an app started more often than every 4 hours would never refresh.
     * None held, a one-off under its id (`null`) or one with other settings (an older app's)
     * is replaced.
     */
    fun needsScheduling(held: PeriodicJobSpec?): Boolean = held != WANTED
}
