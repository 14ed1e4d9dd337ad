"""Remote probe agents: probes run from other machines (locations), their results buffered on disk
(`spool`), sent to the central system (`agent`) and received there (`receiver`, in `app.py run`)."""
