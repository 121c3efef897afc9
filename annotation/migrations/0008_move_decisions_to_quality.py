# ApprovalPolicy, RaterTrust and AgreementReport moved to quality/ with their tables (quality 0001
# adopts them): annotation's state forgets them; the database is not touched.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0007_agreement_report"),
        ("quality", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="ApprovalPolicy"),
                migrations.DeleteModel(name="RaterTrust"),
                migrations.DeleteModel(name="AgreementReport"),
            ],
        ),
    ]
