"""Tell the planner what a cosine distance really costs.

pgvector declares `cosine_distance` at the default cost of one operator, yet comparing two
512-dimension vectors costs about as much as fifty. With the cheap estimate, a collection of ten
thousand chunks is searched by reading every chunk of the collection and sorting by distance
(35 ms measured at 9.3k chunks) instead of walking the HNSW index (8 ms). The owner of the
extension may change the estimate; a database user that may not keeps the default and is told so.
"""

from django.db import migrations

SET_COST = """
DO $$ BEGIN
    ALTER FUNCTION cosine_distance(vector, vector) COST {cost};
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cosine_distance keeps its default cost: % (ask the extension owner to run '
                 'ALTER FUNCTION cosine_distance(vector, vector) COST {cost})', SQLERRM;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("ingest", "0003_lexical_statistics")]
    operations = [migrations.RunSQL(SET_COST.format(cost=50), SET_COST.format(cost=1))]
