"""Words the demo generator draws from: names, places, project axes, and small geographic hints."""

import unicodedata


def words(text):
    return text.split()


FEMALE_FIRST_NAMES = words(
    "Camille Léa Manon Chloé Emma Inès Sarah Julie Nadia Fatima Aïcha Sophie Nathalie Isabelle Claire Amandine "
    "Céline Sandrine Karima Samia Hélène Marion Élodie Laure Mélanie Yasmina Leïla Anne Valérie Caroline Audrey "
    "Myriam Sonia Farida Lucie Pauline Agnès Christine Martine Véronique Nora Salomé Justine Aurélie Émilie "
    "Delphine Fanny Coralie Ophélie Zoé Aminata Mariam Sylvie Brigitte Laetitia Jeanne Louise Margaux Noémie"
)
MALE_FIRST_NAMES = words(
    "Thomas Nicolas Julien Karim Mehdi Mohamed Sofiane Pierre Jean Laurent Stéphane Olivier Sébastien Antoine "
    "Maxime Romain Hugo Yanis Rachid Bruno Philippe Frédéric Cédric David Éric Vincent Mathieu Alexandre Patrick "
    "Christophe Youssef Samir Hervé Didier Gilles Denis François Benoît Guillaume Arnaud Fabrice Jérôme Lucas "
    "Bastien Damien Franck Hakim Moussa Ibrahima Kevin Loïc Marc Paul Quentin Rémi Simon Tristan Yannick"
)
LAST_NAMES = words(
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel Garcia "
    "Roux Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Muller Faure André Mercier Blanc Guérin "
    "Boyer Garnier Chevalier Legrand Gauthier Perrin Robin Clément Morin Henry Roussel Mathieu Masson Marchand "
    "Duval Denis Dumont Lemaire Noël Meyer Dufour Meunier Brun Blanchard Giraud Joly Rivière Lucas Brunet "
    "Gaillard Barbier Arnaud Martinez Roche Renard Schmitt Leroux Colin Vidal Caron Picard Fabre Aubert Lemoine "
    "Renaud Dumas Lacroix Olivier Bourgeois Benoît Rey Leclerc Payet Rolland Guillaume Lecomte Lopez Dupuy "
    "Guillot Hubert Berger Carpentier Sanchez Dupuis Moulin Deschamps Huet Vasseur Perez Boucher Fleury Royer "
    "Klein Jacquet Adam Poirier Marty Aubry Guyot Carré Renault Charpentier Ménard Maillard Baron Bertin Bailly "
    "Schneider Fernandez Collet Léger Bouvier Julien Prévost Millet Perrot Cousin Germain Breton Besson Langlois "
    "Pelletier Lévêque Perrier Leblanc Lebrun Marchal Weber Mallet Hamon Boulanger Monnier Michaud Rodriguez "
    "Gillet Étienne Grondin Tessier Collin Chauvin Bouchet Humbert Reynaud Hoarau Perret Cordier Pichon Lejeune "
    "Gilbert Lamy Delaunay Pasquier Carlier Laporte Benali Haddad Belkacem Mansouri Bouzid Diallo Traoré Nguyen "
    "Cohen Ferreira Santos Rossi Ouali Cissé Kone Tran Pereira Mendes Ziani Amrani Chaouch Bensaïd"
)

# Real people French facilities are often named after.
NAMESAKES = [
    "Jean Moulin",
    "Louise Michel",
    "Simone Veil",
    "Victor Hugo",
    "Jacques Prévert",
    "Pablo Neruda",
    "Nelson Mandela",
    "Aimé Césaire",
    "Albert Camus",
    "Lucie Aubrac",
    "Olympe de Gouges",
    "Joséphine Baker",
    "Germaine Tillion",
    "Gisèle Halimi",
    "Jean Zay",
    "Marie Curie",
    "Paul Éluard",
    "Jean Jaurès",
    "Léo Lagrange",
    "Françoise Dolto",
    "Rosa Parks",
    "Georges Brassens",
    "Henri Wallon",
    "Danielle Casanova",
    "Martin Luther King",
    "Elsa Triolet",
    "Louis Aragon",
    "Stéphane Hessel",
    "Janusz Korczak",
    "George Sand",
    "Colette",
    "Condorcet",
    "Marcel Pagnol",
    "Frida Kahlo",
    "Anne Frank",
    "Jules Verne",
    "Saint-Exupéry",
    "Jean Macé",
    "Paul Langevin",
    "Louise Weiss",
    "Camille Claudel",
    "Émile Zola",
    "Boris Vian",
    "Robert Desnos",
    "Édith Piaf",
    "Jacques Brel",
    "Missak Manouchian",
    "Marie-Claude Vaillant-Couturier",
]
# Common-noun places, with their article (« du Moulin », « des Tilleuls », « de la Source »).
PLACES = [
    "les Tilleuls",
    "les Peupliers",
    "le Moulin",
    "la Source",
    "les Marronniers",
    "les Platanes",
    "les Acacias",
    "le Vieux Bourg",
    "la Gare",
    "les Vergers",
    "le Parc",
    "les Noyers",
    "la Roseraie",
    "les Érables",
    "les Chênes",
    "le Mail",
    "la Colline",
    "les Coteaux",
    "le Plateau",
    "les Jardins",
    "la Fontaine",
    "le Canal",
    "les Saules",
    "la Prairie",
    "les Cerisiers",
    "les Lilas",
    "les Bruyères",
    "les Cèdres",
    "l'Orangerie",
    "l'Étang",
    "les Glycines",
    "le Verger",
    "la Pinède",
    "les Mimosas",
    "le Lavoir",
    "la Halle",
    "les Hirondelles",
    "le Bocage",
    "les Genêts",
    "la Clairière",
    "les Iris",
    "le Belvédère",
    "les Rives",
    "le Clos",
    "les Terrasses",
    "les Oliviers",
]
CENTRE_PREFIXES = [
    ("Centre social", 10),
    ("Centre social et culturel", 3),
    ("Centre socioculturel", 2),
    ("Espace social et culturel", 1),
    ("Maison pour tous – centre social", 1),
]
EVS_NAMES = [
    "La Passerelle",
    "Le Lien",
    "L'Escale",
    "La Ruche",
    "Le Relais",
    "La Maison des habitants",
    "Le Trait d'union",
    "Les Petits Pas",
    "La Boussole",
    "L'Arbre à palabres",
    "La Fabrique",
    "Le Local",
    "La Cabane",
    "Les Jardins partagés",
    "La Grange",
    "Le Fil rouge",
    "L'Étincelle",
    "La Bulle",
    "Le Kiosque",
    "Le Café des familles",
    "La Marelle",
    "Le Tremplin",
    "L'Îlot",
    "La Clé des champs",
    "Le Grenier",
    "La Roulotte",
    "Les Colibris",
    "Le Trèfle",
    "La Courte Échelle",
    "Le Chaudron",
    "L'Atelier",
    "Le Carrefour",
    "La Pépinière",
    "La Pause",
    "Le Tiers-Lieu",
    "Les Ailes",
    "Le Phare",
    "La Maison ouverte",
]
OTHER_MANAGERS = [
    "Fédération Léo Lagrange",
    "Mutualité française",
    "Familles rurales",
    "Ligue de l'enseignement",
    "Régie de quartier",
]
PROJECT_AXES = [
    "Favoriser le lien social et les solidarités de voisinage",
    "Soutenir les parents dans leur rôle éducatif",
    "Accompagner l'accès aux droits et lutter contre le non-recours",
    "Développer le pouvoir d'agir des habitants",
    "Réduire la fracture numérique",
    "Accompagner les jeunes vers l'autonomie",
    "Rompre l'isolement des personnes âgées",
    "Encourager l'engagement bénévole",
    "Favoriser l'accès à la culture et aux loisirs",
    "Accompagner la scolarité et la réussite éducative",
    "Promouvoir la santé et le bien-être",
    "Agir pour la transition écologique et une alimentation durable",
    "Favoriser l'insertion sociale et professionnelle",
    "Développer les ateliers sociolinguistiques",
    "Aller vers les habitants éloignés des institutions",
    "Animer la vie de quartier et les espaces publics",
    "Soutenir les initiatives et projets d'habitants",
    "Faciliter la mobilité des habitants",
    "Accueillir les jeunes enfants et leurs parents",
    "Promouvoir l'égalité entre les femmes et les hommes",
]
STREETS = [
    "rue Jean Jaurès",
    "avenue de la République",
    "rue Victor Hugo",
    "place de la Mairie",
    "rue Pasteur",
    "boulevard Gambetta",
    "rue de la Paix",
    "allée des Tilleuls",
    "chemin des Écoliers",
    "rue du Stade",
    "avenue Salvador Allende",
    "rue Paul Bert",
    "rue Émile Zola",
    "place du Marché",
    "rue des Écoles",
    "avenue du 8 Mai 1945",
    "rue Anatole France",
    "rue de la Liberté",
    "avenue Pierre Mendès France",
    "rue des Jardins",
    "impasse des Lilas",
    "rue Lamartine",
    "boulevard de l'Europe",
    "rue du Docteur Schweitzer",
]
ADDRESS_COMPLEMENTS = ["Bâtiment B", "Rez-de-chaussée", "Maison des associations", "Entrée par la cour", "1er étage"]
APPROVAL_NOTES = [
    "Renouvellement après évaluation du projet social.",
    "Agrément assorti d'un accompagnement de la fédération.",
    "Premier agrément après une phase de préfiguration.",
    "Durée réduite : projet à consolider (gouvernance, participation des habitants).",
]

# INSEE type of name (typeLiaison of @etalab/decoupage-administratif 6.0.0, Licence Ouverte):
# how « de » joins each département's name (« du Rhône », « des Bouches-du-Rhône »).
_LINKS = {
    0: "49 54 71 75 77 974 976",
    1: "28 35 37",
    2: "14 15 18 25 29 30 32 39 41 45 46 47 56 59 62 63 67 68 69 81 82 83 84 90 94 95",
    3: "16 17 19 21 23 24 26 2A 2B 31 33 42 43 44 48 50 51 52 53 55 57 58 70 72 73 74 76 80 85 86 87 93 971 972 973",
    4: "04 05 06 08 13 22 40 64 65 66 78 79 88 92",
    5: "01 02 03 07 09 10 11 12 27 34 36 38 60 61 89 91",
}
_LINK_WORDS = {0: "de ", 1: "d'", 2: "du ", 3: "de la ", 4: "des ", 5: "de l'"}
DEPARTMENT_LINKS = {code: _LINK_WORDS[kind] for kind, codes in _LINKS.items() for code in codes.split()}

# QPV of Paris, Lyon and Marseille are published at commune level (75056, 69123, 13055); the demo
# places their centres in a plausible arrondissement (approximate, for realism only).
QPV_ARRONDISSEMENTS = {
    **dict.fromkeys(["QN06929M", "QN06935M"], "69385"),
    "QN06930M": "69387",
    **dict.fromkeys(["QN06931M", "QN06932M", "QN06933I", "QN06942N"], "69388"),
    **dict.fromkeys(["QN06934M", "QN06938I"], "69389"),
    "QN06939I": "69383",
    "QN01330M": "13201",
    "QN01332M": "13203",
    **dict.fromkeys(["QN01334I", "QN01368M"], "13209"),
    **dict.fromkeys(["QN01307M", "QN01308I", "QN01335M", "QN01336M", "QN01337I"], "13210"),
    **dict.fromkeys(["QN01338I", "QN01339I", "QN01340I", "QN01341I"], "13211"),
    **dict.fromkeys(["QN01333I", "QN01369I"], "13212"),
    **dict.fromkeys(
        ["QN01342I", "QN01343I", "QN01344M", "QN01345M", "QN01346M", "QN01347I", "QN01348M", "QN01351M"], "13213"
    ),
    **dict.fromkeys(["QN01331M", "QN01349M", "QN01350M", "QN01352M", "QN01363I"], "13214"),
    **dict.fromkeys(
        [
            "QN01304I",
            "QN01353M",
            "QN01355M",
            "QN01356I",
            "QN01357M",
            "QN01358I",
            "QN01359I",
            "QN01360M",
            "QN01361I",
            "QN01362I",
        ],
        "13215",
    ),
    **dict.fromkeys(["QN01303I", "QN01354M", "QN01364I"], "13216"),
    "QN07519M": "75111",
    **dict.fromkeys(["QN07501M", "QN07503M", "QN07504M"], "75113"),
    **dict.fromkeys(["QN07505I", "QN07506M", "QN07521N"], "75114"),
    **dict.fromkeys(["QN07507I", "QN07508M", "QN07509M", "QN07510M", "QN07511M", "QN07512I"], "75118"),
    **dict.fromkeys(["QN07502M", "QN07513M", "QN07514M", "QN07515M", "QN07516I"], "75119"),
    **dict.fromkeys(["QN07517I", "QN07518M", "QN07520M"], "75120"),
}

# First two digits of landline numbers, by region (DROM have their own prefixes).
PHONE_PREFIXES = {
    "11": ["01"],
    "24": ["02"],
    "28": ["02"],
    "52": ["02"],
    "53": ["02"],
    "27": ["03"],
    "32": ["03"],
    "44": ["03"],
    "84": ["04"],
    "93": ["04"],
    "94": ["04"],
    "75": ["05"],
    "76": ["05"],
    "01": ["05 90"],
    "02": ["05 96"],
    "03": ["05 94"],
    "04": ["02 62"],
    "06": ["02 69"],
}
DEPARTMENT_PHONE_PREFIXES = {"69": ["04 72", "04 78", "04 74"], "13": ["04 91", "04 42", "04 90"]}


def of(name, proper=True):
    """« de » joined to a name: « de Lyon », « d'Arles », « du Puy », « des Pennes-Mirabeau », « de la Source »."""
    for article, joined in (("Les ", "des "), ("Le ", "du "), ("les ", "des "), ("le ", "du ")):
        if name.startswith(article):
            return joined + name[len(article) :]
    if not proper and name.startswith("la "):
        return "de " + name
    if not proper and name.startswith("l'"):
        return "de " + name
    if starts_with_vowel(name) and not name.startswith(("La ", "L'")):
        return "d'" + name
    return "de " + name


def starts_with_vowel(text):
    first = ascii_fold(text[:1]).lower()
    return first in "aeiouy"


def ascii_fold(text):
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def slug(text, limit=40):
    words = "".join(ch if ch.isalnum() else " " for ch in ascii_fold(text).lower()).split()
    return "-".join(words)[:limit].strip("-")
