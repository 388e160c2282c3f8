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
import java.util.concurrent.Executors
import java.util.concurrent.Future

/**
 * Sends pending records when a network is there. JobScheduler starts it under a network
 * constraint, so a courier offline in a basement loses nothing and waits for nothing: the door
 * check stores its record and goes on, and this job runs on its own thread later.
 */
class SyncJobService : JobService() {
    private val thread = Executors.newSingleThreadExecutor()
    @Volatile
    private var running: Future<*>? = null

    override fun onStartJob(params: JobParameters): Boolean {
        val sync = (application as HonninApp).services.sync
        running = thread.submit {
            val outcome = sync.syncPending()
            // Records made while this sync ran, or a receiver that was briefly away: run again
            // with the job's backoff. A device that is not enrolled waits for the enrolment.
            val again = when (outcome) {
                is SyncOutcome.Done -> outcome.remaining > 0
                is SyncOutcome.Failed -> outcome.retryable
                SyncOutcome.NotEnrolled -> false
            }
            jobFinished(params, again)
        }
        return true
    }

    override fun onStopJob(params: JobParameters): Boolean {
        // The network went away: the sync's own timeout ends the request in flight, and a
        // record counts as synced only on a verified receipt, so stopping here loses nothing.
        running?.cancel(true)
        return true
    }

    override fun onDestroy() {
        thread.shutdownNow()
        super.onDestroy()
    }
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
