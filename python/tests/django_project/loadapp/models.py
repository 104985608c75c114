from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=64)
    worker = models.IntegerField()

    class Meta:
        app_label = "loadapp"
