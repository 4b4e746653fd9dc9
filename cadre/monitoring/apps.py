from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "cadre.monitoring"
    label = "monitoring"
    verbose_name = "Prévention"

    def ready(self):
        from cadre.monitoring import receivers  # noqa: F401 — statements, payments, documents recompute alerts
        from cadre.monitoring.overview import READS as ACCOUNTS_READS
        from cadre.monitoring.overview import links
        from cadre.structures.overview import register

        register(links, ACCOUNTS_READS)

        from cadre.core.work import register as register_work
        from cadre.funding import calendar
        from cadre.monitoring import work
        from cadre.monitoring.cases_overview import READS as CASES_READS
        from cadre.monitoring.cases_overview import links as case_links

        register(case_links, CASES_READS)  # difficulty reports and the support case, on the structure page
        # The home page's counts; the cases' actions join the obligations calendar, and through it the home page's
        # next dates (funding's register_upcoming), whose cache also reads work.READS from the line above.
        register_work(work.work, work.READS)
        calendar.register(work.in_period, work.late, work.READS)
