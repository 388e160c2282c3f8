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
 * check stores its record and goes on, and this job runs on its own thread later.
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
    override fun requestSync() {
        val scheduler = context.getSystemService(JobScheduler::class.java) ?: return
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

    companion object {
        const val SYNC_JOB_ID = 8001
        const val BACKOFF_MILLIS = 30_000L
    }
}
