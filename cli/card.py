import click
@click.command("card")
def card(): pass
